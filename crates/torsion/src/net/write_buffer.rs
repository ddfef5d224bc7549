//! The bytes a socket has not taken yet, and the flow-control marks that
//! pause and resume a push producer.

use std::io::{self, IoSlice, Write};

/// Above this many buffered bytes a push producer is paused (Twisted's
/// `bufferSize`).
pub const HIGH_WATER_MARK: usize = 64 * 1024;

/// Below this many buffered bytes a paused push producer is resumed.
pub const LOW_WATER_MARK: usize = 16 * 1024;

/// Buffered bytes in write order. Writes go straight to the socket while
/// this is empty; only what the socket refused lands here.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    data: Vec<u8>,
    start: usize,
    /// Bytes a writer took out with `take_unsent` and has not yet given
    /// back or reported written (the io_uring backend's send under way).
    lent: usize,
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        // Reclaim the written front once it is most of the buffer, so a
        // long-lived slow connection does not grow without bound.
        if self.start > 0 && self.start >= self.data.len() / 2 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.extend_from_slice(bytes);
    }

    /// Writes as much as `sink` takes. Ok(true) once everything is written,
    /// Ok(false) when the sink would block.
    pub(crate) fn flush_to(&mut self, mut sink: impl Write) -> io::Result<bool> {
        while !self.is_empty() {
            match sink.write(&self.data[self.start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.consume(n),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    }

    /// Takes the bytes out, for a writer that hands them on whole: the
    /// unsent ones are `data[start..]`. They count as
    /// [`outstanding`](Self::outstanding) until the writer calls
    /// [`returned`](Self::returned).
    pub(crate) fn take_unsent(&mut self) -> (Vec<u8>, usize) {
        let start = std::mem::take(&mut self.start);
        let data = std::mem::take(&mut self.data);
        self.lent = data.len() - start;
        (data, start)
    }

    /// The bytes taken out are written, or about to be put back.
    pub(crate) fn returned(&mut self) {
        self.lent = 0;
    }

    /// Puts back `data[start..]`, which a writer took and could not send,
    /// ahead of what was pushed since.
    pub(crate) fn put_back(&mut self, mut data: Vec<u8>, start: usize) {
        data.extend_from_slice(&self.data[self.start..]);
        self.data = data;
        self.start = start;
    }

    /// Bytes not yet written: buffered, and lent out.
    pub(crate) fn outstanding(&self) -> usize {
        self.len() + self.lent
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }
}

/// Writes `data` straight to `sink` and returns how much of it the sink
/// took before it would block.
pub(crate) fn write_direct(mut sink: impl Write, data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match sink.write(&data[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(written)
}

/// Writes the slices with as few system calls as the sink allows and
/// returns how many bytes it took before it would block.
pub(crate) fn write_vectored_direct(
    mut sink: impl Write,
    data: &[IoSlice<'_>],
) -> io::Result<usize> {
    let total: usize = data.iter().map(|slice| slice.len()).sum();
    if total == 0 {
        return Ok(0);
    }
    // The first call almost always takes everything: the slices are copied
    // (to advance past what was written) only when it does not.
    let mut written = loop {
        match sink.write_vectored(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => break n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    };
    if written == total {
        return Ok(total);
    }
    let mut slices: Vec<IoSlice<'_>> = data.to_vec();
    let mut remaining: &mut [IoSlice<'_>] = &mut slices;
    IoSlice::advance_slices(&mut remaining, written);
    while written < total {
        match sink.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut remaining, n);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(written)
}

/// Appends what the sink did not take of `data` (the first `skip` bytes
/// were written) to `buffer`.
pub(crate) fn buffer_rest(buffer: &mut WriteBuffer, data: &[IoSlice<'_>], mut skip: usize) {
    for slice in data {
        if skip >= slice.len() {
            skip -= slice.len();
            continue;
        }
        buffer.push(&slice[skip..]);
        skip = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that takes `limit` bytes and then would block.
    struct Limited {
        taken: Vec<u8>,
        limit: usize,
    }

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = self.limit - self.taken.len();
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.min(buf.len());
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn direct_write_reports_what_was_taken_and_the_rest_is_buffered() {
        let mut sink = Limited {
            taken: Vec::new(),
            limit: 3,
        };
        let data = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
        let taken = write_vectored_direct(&mut sink, &data).unwrap();
        assert_eq!(taken, 3);
        let mut buffer = WriteBuffer::default();
        buffer_rest(&mut buffer, &data, taken);
        assert_eq!(buffer.len(), 2);
        sink.limit = 10;
        assert!(buffer.flush_to(&mut sink).unwrap());
        assert_eq!(sink.taken, b"abcde");
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_partially_flushed_buffer_keeps_order_across_pushes() {
        let mut buffer = WriteBuffer::default();
        buffer.push(b"0123456789");
        let mut sink = Limited {
            taken: Vec::new(),
            limit: 7,
        };
        assert!(!buffer.flush_to(&mut sink).unwrap());
        buffer.push(b"abc");
        sink.limit = 100;
        assert!(buffer.flush_to(&mut sink).unwrap());
        assert_eq!(sink.taken, b"0123456789abc");
    }
}
