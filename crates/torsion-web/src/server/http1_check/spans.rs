//! Where the parts of a head lie in its bytes, noted as the parser reads
//! them, so that the connection takes the head apart without looking for
//! them again. Offsets count from the head's first byte (the empty lines a
//! client may send before a request included), and a span runs from its
//! first byte to the one after its last.

use super::fields::Field;

/// The parts of the last request head read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeadSpans {
    /// The method.
    pub(crate) method: (u32, u32),
    /// The request target.
    pub(crate) target: (u32, u32),
    /// The request is an HTTP/1.0 one (any other is read as HTTP/1.1).
    pub(crate) http10: bool,
    /// The field lines, in order.
    pub(crate) fields: Vec<FieldSpan>,
}

/// One field line: its name runs from `name` to `colon`, its value (with
/// the whitespace around it) from after the colon to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    /// The field, when the name is one the checker reads the value of.
    pub(crate) field: Field,
    /// The name's first byte.
    pub(crate) name: u32,
    /// The colon after the name.
    pub(crate) colon: u32,
    /// The CR or LF that ends the line.
    pub(crate) end: u32,
}

impl HeadSpans {
    /// A new head begins, its method at `at`.
    pub(super) fn begin(&mut self, at: usize) {
        self.method = (offset(at), offset(at));
        self.fields.clear();
    }

    /// The method ends at `at`, the space before the target.
    pub(super) fn method_end(&mut self, at: usize) {
        self.method.1 = offset(at);
        self.target = (offset(at + 1), offset(at + 1));
    }

    /// The target ends at `at`, the space before the version.
    pub(super) fn target_end(&mut self, at: usize) {
        self.target.1 = offset(at);
    }

    /// A field line begins at `at`.
    pub(super) fn field(&mut self, at: usize) {
        let at = offset(at);
        self.fields.push(FieldSpan {
            field: Field::Other,
            name: at,
            colon: at,
            end: at,
        });
    }

    /// The field's name ends at `at`, its colon; the name names `field`.
    pub(super) fn colon(&mut self, at: usize, named: Field) {
        if let Some(field) = self.fields.last_mut() {
            field.colon = offset(at);
            field.field = named;
        }
    }

    /// The field's value ends at `at`, the CR or LF ending its line.
    pub(super) fn value_end(&mut self, at: usize) {
        if let Some(field) = self.fields.last_mut() {
            field.end = offset(at);
        }
    }
}

/// An offset in a head, which the head's limit keeps far below `u32::MAX`.
fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}
