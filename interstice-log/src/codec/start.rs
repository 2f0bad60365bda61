//! The start marker: where a log starts once retention removed its
//! beginning (a file `START` on disk, an object `start` on S3).
//!
//! ```text
//! magic "ISTA" | first_offset u64 | crc32 u32      (16 bytes)
//! ```

use super::FrameError;

/// The four bytes a start marker starts with.
pub const START_MAGIC: [u8; 4] = *b"ISTA";

/// Length of an encoded start marker.
pub const START_LEN: usize = 16;

/// The marker saying a log starts at `first_offset`.
pub fn encode_start(first_offset: u64) -> [u8; START_LEN] {
    let mut out = [0; START_LEN];
    out[..4].copy_from_slice(&START_MAGIC);
    out[4..12].copy_from_slice(&first_offset.to_le_bytes());
    let crc = crc32fast::hash(&out[..12]);
    out[12..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The first offset a start marker records.
pub fn decode_start(bytes: &[u8]) -> Result<u64, FrameError> {
    if bytes.len() != START_LEN {
        return Err(FrameError::Malformed {
            reason: format!("a start marker is {START_LEN} bytes, not {}", bytes.len()),
        });
    }
    if bytes[..4] != START_MAGIC {
        let found = bytes[..4].try_into().expect("4 bytes");
        return Err(FrameError::BadMagic { found });
    }
    let expected = u32::from_le_bytes(bytes[12..].try_into().expect("4 bytes"));
    let found = crc32fast::hash(&bytes[..12]);
    if expected != found {
        return Err(FrameError::ChecksumMismatch { expected, found });
    }
    Ok(u64::from_le_bytes(
        bytes[4..12].try_into().expect("8 bytes"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_round_trips_and_damage_is_caught() {
        let m = encode_start(4096);
        assert_eq!(&m[..4], b"ISTA");
        assert_eq!(decode_start(&m), Ok(4096));
        for at in 0..START_LEN {
            let mut bad = m;
            bad[at] ^= 1;
            assert!(decode_start(&bad).is_err(), "byte {at}");
        }
        assert!(decode_start(&m[..15]).is_err());
    }
}
