//! [`Flags`]: the yes/no state of a Deferred.

/// What has happened to a Deferred, one bit each. As five `bool`s they
/// made every Deferred a word larger (and a size class larger in the
/// allocator), which a burst of pending Deferreds pays for in memory.
#[derive(Clone, Copy)]
pub(super) struct Flags(u8);

impl Flags {
    /// A result arrived (from the producer or from cancellation).
    pub(super) const FIRED: u8 = 1;
    /// The result was handed to a continuation or a poll.
    pub(super) const DELIVERED: u8 = 1 << 1;
    /// The consumer half (`Deferred`) still exists or has attached a
    /// continuation: someone may still look at the result.
    pub(super) const OBSERVED: u8 = 1 << 2;
    /// Cancellation failed the Deferred.
    pub(super) const CANCELLED: u8 = 1 << 3;
    /// A consumer asked for this Deferred to be cancelled: a `Cancelled`
    /// failure it then holds is the consumer's doing, not an error to
    /// report when it is dropped.
    pub(super) const CANCEL_REQUESTED: u8 = 1 << 4;

    /// A new Deferred's: observed, and fired if it is made with its result.
    pub(super) fn new(fired: bool) -> Flags {
        if fired {
            Flags(Flags::OBSERVED | Flags::FIRED)
        } else {
            Flags(Flags::OBSERVED)
        }
    }

    pub(super) fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub(super) fn insert(&mut self, flag: u8) {
        self.0 |= flag;
    }

    pub(super) fn remove(&mut self, flag: u8) {
        self.0 &= !flag;
    }
}
