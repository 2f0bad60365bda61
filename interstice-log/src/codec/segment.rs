//! Segment headers: the first bytes of every segment (a file on disk, an
//! object in S3).
//!
//! ```text
//! magic "ISEG" | version u8 | max_frame_kib u24 | first_offset u64 | crc32 u32
//! ```
//! `max_frame_kib` (version 2; zero in version 1) is the largest frame the
//! writer of the segment accepted, in KiB, rounded up: the limit readers
//! apply to the segment's frames, whatever their own setting.

use bytes::Bytes;

use super::{Cursor, FORMAT_VERSION, FrameError, is_known_version};

/// The four bytes every segment starts with.
pub const SEGMENT_MAGIC: [u8; 4] = *b"ISEG";

/// Length of an encoded [`SegmentHeader`].
pub const SEGMENT_HEADER_LEN: usize = 4 + 1 + 3 + 8 + 4;

/// The header of a segment: which offset its first frame has, and how
/// large its frames may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Offset of the segment's first commit (also its name).
    pub first_offset: u64,
    /// The format version of the header.
    pub version: u8,
    /// The largest frame the segment may hold, as its writer set it
    /// (rounded up to a KiB); `None` in a version 1 header.
    pub max_frame_size: Option<u64>,
}

impl SegmentHeader {
    /// The header a writer of this version writes for a segment starting
    /// at `first_offset`, whose frames are at most `max_frame_size` bytes
    /// (at most 4 GiB, as [`crate::LogOptions::validate`] checks).
    pub fn new(first_offset: u64, max_frame_size: u64) -> Self {
        Self {
            first_offset,
            version: FORMAT_VERSION,
            max_frame_size: Some(max_frame_size.div_ceil(1024) * 1024),
        }
    }

    /// The frame size limit for this segment's frames: what its writer
    /// recorded, or (version 1) `configured`, the reader's own setting.
    pub fn frame_limit(&self, configured: u64) -> u64 {
        self.max_frame_size.unwrap_or(configured)
    }

    /// Whether a writer may append frames of at most `max_frame_size`
    /// bytes to this segment: it has this version's header and a limit at
    /// least that large. Otherwise the writer starts a new segment.
    pub fn accepts(&self, max_frame_size: u64) -> bool {
        self.version == FORMAT_VERSION && self.frame_limit(0) >= max_frame_size
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[0..4].copy_from_slice(&SEGMENT_MAGIC);
        out[4] = self.version;
        let kib = self.max_frame_size.map_or(0, |m| m.div_ceil(1024)) as u32;
        debug_assert!(kib < 1 << 24, "max frame size over the 24-bit field");
        out[5..8].copy_from_slice(&kib.to_le_bytes()[..3]);
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
        let kib: [u8; 3] = c.array()?;
        let first_offset = c.u64()?;
        let expected = c.u32()?;
        let found = crc32fast::hash(&buf[..16]);
        if expected != found {
            return Err(FrameError::ChecksumMismatch { expected, found });
        }
        // Every version keeps this header's length and checksum, so a
        // version byte that passed the checksum is a newer writer's, not
        // damage.
        if !is_known_version(version) {
            return Err(FrameError::UnsupportedVersion(version));
        }
        let kib = u32::from_le_bytes([kib[0], kib[1], kib[2], 0]) as u64;
        let max_frame_size = match (version, kib) {
            (1, 0) => None,
            (1, _) => {
                return Err(FrameError::Malformed {
                    reason: "reserved header bytes are not zero".into(),
                });
            }
            (_, 0) => {
                return Err(FrameError::Malformed {
                    reason: "maximum frame size is 0".into(),
                });
            }
            (_, kib) => Some(kib * 1024),
        };
        Ok(Self {
            first_offset,
            version,
            max_frame_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bit_flip() {
        let h = SegmentHeader::new(42, 1 << 20);
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
