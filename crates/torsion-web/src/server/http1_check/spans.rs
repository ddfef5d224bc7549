//! Where the parts of a head lie in its bytes, noted as the checker reads
//! them, so that a connection parsing the head itself takes them without
//! looking for them again. Offsets count from the head's first byte (the
//! empty lines a client may send before a request included).

/// The parts of the last request head read.
#[derive(Debug, Default)]
pub(crate) struct HeadSpans {
    pub(crate) method: (u32, u32),
    pub(crate) target: (u32, u32),
    pub(crate) http10: bool,
    pub(crate) fields: Vec<FieldSpan>,
}

/// One field line: its name runs from `name` to `colon`, its value (with
/// the whitespace around it) from after the colon to `end`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FieldSpan {
    pub(crate) name: u32,
    pub(crate) colon: u32,
    pub(crate) end: u32,
}

impl HeadSpans {
    /// A new head begins, its method at `at`.
    pub(super) fn begin(&mut self, at: usize) {
        self.method = (offset(at), offset(at));
        self.fields.clear();
    }

    pub(super) fn method_end(&mut self, at: usize) {
        self.method.1 = offset(at);
        self.target = (offset(at + 1), offset(at + 1));
    }

    pub(super) fn target_end(&mut self, at: usize) {
        self.target.1 = offset(at);
    }

    pub(super) fn field(&mut self, at: usize) {
        let at = offset(at);
        self.fields.push(FieldSpan {
            name: at,
            colon: at,
            end: at,
        });
    }

    pub(super) fn colon(&mut self, at: usize) {
        if let Some(field) = self.fields.last_mut() {
            field.colon = offset(at);
        }
    }

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
