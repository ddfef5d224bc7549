//! The byte classes of a request head, as tables: every byte of a head is
//! classified, so a lookup beats a chain of comparisons, and a long run of
//! one class is taken eight bytes at a time.

/// A set of bytes, looked up by value.
pub(super) struct ByteClass([bool; 256]);

impl ByteClass {
    /// The bytes in the inclusive `ranges`, and `extra`.
    const fn new(ranges: &[(u8, u8)], extra: &[u8]) -> ByteClass {
        let mut table = [false; 256];
        let mut i = 0;
        while i < ranges.len() {
            let mut byte = ranges[i].0 as usize;
            while byte <= ranges[i].1 as usize {
                table[byte] = true;
                byte += 1;
            }
            i += 1;
        }
        let mut i = 0;
        while i < extra.len() {
            table[extra[i] as usize] = true;
            i += 1;
        }
        ByteClass(table)
    }

    #[inline(always)]
    pub(super) const fn contains(&self, byte: u8) -> bool {
        self.0[byte as usize]
    }

    /// How many bytes at the start of `bytes` are in the class, for the
    /// short runs of a method, a target or a name.
    #[inline(always)]
    pub(super) fn run(&self, bytes: &[u8]) -> usize {
        self.run_from(bytes, 0)
    }

    /// As [`run`](Self::run), for the long runs of header values: whole
    /// words of eight are looked up without a branch for each byte, which
    /// costs a short run more than it saves.
    #[inline(always)]
    pub(super) fn long_run(&self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        for word in bytes.chunks_exact(8) {
            if !word
                .iter()
                .fold(true, |all, &byte| all & self.contains(byte))
            {
                break;
            }
            taken += 8;
        }
        self.run_from(bytes, taken)
    }

    #[inline(always)]
    fn run_from(&self, bytes: &[u8], mut taken: usize) -> usize {
        while let Some(&byte) = bytes.get(taken) {
            if !self.contains(byte) {
                break;
            }
            taken += 1;
        }
        taken
    }
}

const ALPHANUMERIC: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')];

/// RFC 9110's token characters (method, field names, codings).
pub(super) static TCHAR: ByteClass = ByteClass::new(ALPHANUMERIC, b"!#$%&'*+-.^_`|~");

/// unreserved, pct-encoded and sub-delims (RFC 3986, section 3.2.2): a
/// Host's name.
pub(super) static REG_NAME: ByteClass = ByteClass::new(ALPHANUMERIC, b"-._~%!$&'()*+,;=");

/// What a request target may hold: visible ASCII.
pub(super) static TARGET: ByteClass = ByteClass::new(&[(0x21, 0x7e)], b"");

/// What a field value may hold (RFC 9110, section 5.5): visible
/// characters, space, tab, and obs-text.
pub(super) static FIELD_VALUE: ByteClass = ByteClass::new(&[(b' ', b'~'), (0x80, 0xff)], b"\t");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_hold_what_the_rfcs_say() {
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let value = |b: u8| matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xff);
        for byte in 0..=255u8 {
            assert_eq!(TCHAR.contains(byte), tchar(byte), "{byte:#x}");
            assert_eq!(FIELD_VALUE.contains(byte), value(byte), "{byte:#x}");
            assert_eq!(
                TARGET.contains(byte),
                (0x21..=0x7e).contains(&byte),
                "{byte:#x}"
            );
        }
    }

    #[test]
    fn a_run_stops_at_the_first_byte_outside_wherever_it_falls() {
        let mut bytes = vec![b'a'; 40];
        assert_eq!(TCHAR.run(&bytes), 40);
        assert_eq!(TCHAR.long_run(&bytes), 40);
        for stop in 0..40 {
            bytes[stop] = b':';
            for bytes in [&bytes[..], &bytes[..stop]] {
                assert_eq!(TCHAR.run(bytes), stop);
                assert_eq!(TCHAR.long_run(bytes), stop);
            }
            bytes[stop] = b'a';
        }
        assert_eq!(TCHAR.run(b""), 0);
        assert_eq!(TCHAR.long_run(b""), 0);
    }
}
