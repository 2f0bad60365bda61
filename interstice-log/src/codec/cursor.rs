//! A bounds-checked reader over a shared byte buffer.

use bytes::Bytes;

use super::FrameError;

/// Reads little-endian fields from `buf[pos..end]`, failing with
/// [`FrameError::Truncated`] instead of reading past `end`.
pub(crate) struct Cursor<'a> {
    buf: &'a Bytes,
    start: usize,
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a Bytes, start: usize, end: usize) -> Self {
        debug_assert!(start <= end && end <= buf.len());
        Self {
            buf,
            start,
            pos: start,
            end,
        }
    }

    /// Bytes consumed since the cursor's start.
    pub(crate) fn consumed(&self) -> usize {
        self.pos - self.start
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.remaining() {
            return Err(FrameError::Truncated {
                needed: (self.consumed() + n) as u64,
                available: (self.end - self.start) as u64,
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, FrameError> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FrameError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FrameError> {
        self.array().map(u64::from_le_bytes)
    }

    /// Skips `n` bytes (checked).
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), FrameError> {
        self.take(n).map(drop)
    }

    /// The next `n` bytes as a zero-copy slice of the buffer.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Bytes, FrameError> {
        let at = self.pos;
        self.take(n)?;
        Ok(self.buf.slice(at..at + n))
    }

    /// The next `n` bytes as UTF-8; `what` names the field in the error.
    pub(crate) fn utf8(&mut self, n: usize, what: &str) -> Result<String, FrameError> {
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|e| FrameError::Malformed {
                reason: format!("{what} is not UTF-8: {e}"),
            })
    }
}
