//! The form of a request target (RFC 9112, section 3.2), told from its
//! bytes as they arrive: it decides which methods may use it.

/// The shape of a request target (RFC 9112, section 3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum TargetForm {
    #[default]
    Empty,
    Origin,
    Asterisk,
    /// Not known yet: `scheme:` so far, with how many `/` after the colon.
    MaybeAbsolute {
        colon: bool,
        slashes: u8,
    },
    Absolute,
    Authority,
}

impl TargetForm {
    pub(super) fn next(self, byte: u8) -> TargetForm {
        use TargetForm::*;
        match self {
            Empty if byte == b'/' => Origin,
            Empty if byte == b'*' => Asterisk,
            Empty if byte.is_ascii_alphabetic() => MaybeAbsolute {
                colon: false,
                slashes: 0,
            },
            Empty => Authority,
            Origin | Absolute | Authority => self,
            Asterisk => Authority,
            MaybeAbsolute { colon: false, .. } if byte == b':' => MaybeAbsolute {
                colon: true,
                slashes: 0,
            },
            MaybeAbsolute { colon: false, .. }
                if byte.is_ascii_alphanumeric() || b"+-.".contains(&byte) =>
            {
                self
            }
            MaybeAbsolute {
                colon: true,
                slashes,
            } if byte == b'/' => {
                if slashes == 1 {
                    Absolute
                } else {
                    MaybeAbsolute {
                        colon: true,
                        slashes: 1,
                    }
                }
            }
            MaybeAbsolute { .. } => Authority,
        }
    }

    /// The form after `bytes`, as [`next`](Self::next) gives it byte by
    /// byte; the bytes after the ones that settle it are not looked at.
    pub(super) fn read(mut self, bytes: &[u8]) -> TargetForm {
        for &byte in bytes {
            if matches!(
                self,
                TargetForm::Origin | TargetForm::Absolute | TargetForm::Authority
            ) {
                break;
            }
            self = self.next(byte);
        }
        self
    }

    pub(super) fn finish(self) -> TargetForm {
        match self {
            TargetForm::MaybeAbsolute { .. } => TargetForm::Authority,
            form => form,
        }
    }
}
