//! Segment headers: the first bytes of every segment (a file on disk, an
//! object in S3).
//!
//! ```text
//! magic "ISEG" | version u8 | reserved [0u8; 3] | first_offset u64 | crc32 u32
//! ```

use bytes::Bytes;

use super::{Cursor, FORMAT_VERSION, FrameError};

/// The four bytes every segment starts with.
pub const SEGMENT_MAGIC: [u8; 4] = *b"ISEG";

/// Length of an encoded [`SegmentHeader`].
pub const SEGMENT_HEADER_LEN: usize = 4 + 1 + 3 + 8 + 4;

/// The header of a segment: which offset its first frame has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Offset of the segment's first commit (also its name).
    pub first_offset: u64,
}

impl SegmentHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[0..4].copy_from_slice(&SEGMENT_MAGIC);
        out[4] = FORMAT_VERSION;
        out[8..16].copy_from_slice(&self.first_offset.to_le_bytes());
        let crc = crc32fast::hash(&out[..16]);
        out[16..20].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and verifies the header at the start of `buf`.
    pub fn decode(buf: &Bytes) -> Result<Self, FrameError> {
        let mut c = Cursor::new(buf, 0, buf.len().min(SEGMENT_HEADER_LEN));
        let magic: [u8; 4] = c.array()?;
        if magic != SEGMENT_MAGIC {
            return Err(FrameError::BadMagic { found: magic });
        }
        let version = c.u8()?;
        let reserved: [u8; 3] = c.array()?;
        let first_offset = c.u64()?;
        let expected = c.u32()?;
        let found = crc32fast::hash(&buf[..16]);
        if expected != found {
            return Err(FrameError::ChecksumMismatch { expected, found });
        }
        if version != FORMAT_VERSION {
            return Err(FrameError::UnsupportedVersion(version));
        }
        if reserved != [0; 3] {
            return Err(FrameError::Malformed {
                reason: "reserved header bytes are not zero".into(),
            });
        }
        Ok(Self { first_offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bit_flip() {
        let h = SegmentHeader { first_offset: 42 };
        let bytes = h.encode();
        assert_eq!(
            SegmentHeader::decode(&Bytes::copy_from_slice(&bytes)).unwrap(),
            h
        );
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SegmentHeader::decode(&Bytes::copy_from_slice(&b)).is_err(),
                "bit {bit}"
            );
        }
        for cut in 0..bytes.len() {
            let err = SegmentHeader::decode(&Bytes::copy_from_slice(&bytes[..cut])).unwrap_err();
            assert!(err.is_truncation());
        }
    }
}
