//! Where things live in a log directory.
//!
//! ```text
//! LOG_DIR/
//!   LOCK                              writer lock (holds the writer's pid)
//!   START                             first offset, once retention removed a prefix
//!   00000000000000000000.log          segments, named by first offset
//!   00000000000000004096.log
//!   quarantine/                       bytes cut by recovery or truncation
//!     00000000000000004096.log.1830.1764130000123456789.cut
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use interstice_log::codec::{SegmentHeader, decode_start, encode_start};
use interstice_log::{Error, Quarantined};

use crate::vfs::{Vfs, VfsFile};

/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Name of the start marker: the log's first offset, when not 0.
pub(crate) const START_FILE: &str = "START";
/// Name of the quarantine directory.
pub(crate) const QUARANTINE_DIR: &str = "quarantine";
const SEGMENT_EXT: &str = ".log";
const TMP_EXT: &str = ".tmp";

/// The file name of the segment whose first commit is `offset`.
pub(crate) fn segment_name(offset: u64) -> String {
    format!("{offset:020}{SEGMENT_EXT}")
}

/// The first offset a segment file name stands for, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a log directory holds.
pub(crate) struct Listing {
    /// Segments as (first offset, file name), in offset order.
    pub segments: Vec<(u64, String)>,
    /// Leftovers of an interrupted segment creation.
    pub temporaries: Vec<String>,
}

/// Lists the segments of `dir`.
pub(crate) fn list(vfs: &dyn Vfs, dir: &Path) -> Result<Listing, Error> {
    let mut listing = Listing {
        segments: Vec::new(),
        temporaries: Vec::new(),
    };
    let names = vfs
        .list(dir)
        .map_err(|e| Error::io("list log directory", dir.display(), e))?;
    for name in names {
        if let Some(offset) = parse_segment_name(&name) {
            listing.segments.push((offset, name));
        } else if name.ends_with(TMP_EXT) {
            listing.temporaries.push(name);
        }
    }
    // Never trust the directory's order.
    listing.segments.sort_unstable();
    Ok(listing)
}

/// fsyncs a directory so that file creations and renames in it are durable.
pub(crate) fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<(), Error> {
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir.display(), e))
}

/// Creates a segment atomically: header written and synced in a temporary
/// file, renamed into place, directory synced. A crash leaves either no
/// segment or a whole header.
pub(crate) fn create_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    header: SegmentHeader,
) -> Result<Arc<dyn VfsFile>, Error> {
    let name = segment_name(header.first_offset);
    let path = dir.join(&name);
    if vfs.exists(&path) {
        return Err(Error::io(
            "create segment",
            path.display(),
            io::Error::new(io::ErrorKind::AlreadyExists, "segment already exists"),
        ));
    }
    let tmp = dir.join(format!("{name}{TMP_EXT}"));
    let header = header.encode();
    let file = vfs
        .create(&tmp, false)
        .map_err(|e| Error::io("create segment", tmp.display(), e))?;
    file.write_all_at(&header, 0)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write segment header", tmp.display(), e))?;
    vfs.rename(&tmp, &path)
        .map_err(|e| Error::io("rename segment into place", path.display(), e))?;
    sync_dir(vfs, dir)?;
    Ok(file)
}

/// The first offset the start marker records: 0 when there is none.
/// A marker that fails its checks is corruption (it is written whole,
/// by rename), reported as such.
pub(crate) fn read_start(vfs: &dyn Vfs, dir: &Path) -> Result<u64, Error> {
    let path = dir.join(START_FILE);
    if !vfs.exists(&path) {
        return Ok(0);
    }
    let bytes = vfs
        .read(&path, None)
        .map_err(|e| Error::io("read start marker", path.display(), e))?;
    decode_start(&bytes).map_err(|e| {
        Error::Corrupt(Box::new(interstice_log::BadFrame {
            segment: START_FILE.into(),
            position: 0,
            offset: None,
            len: bytes.len() as u64,
            damage: interstice_log::Damage::Frame(e),
        }))
    })
}

/// Records `first` as the log's first offset, atomically and durably:
/// a temporary file, synced, renamed over the marker, directory synced.
pub(crate) fn write_start(vfs: &dyn Vfs, dir: &Path, first: u64) -> Result<(), Error> {
    let tmp = dir.join(format!("{START_FILE}{TMP_EXT}"));
    let path = dir.join(START_FILE);
    vfs.create(&tmp, false)
        .and_then(|f| {
            f.write_all_at(&encode_start(first), 0)
                .and_then(|()| f.sync_data())
        })
        .map_err(|e| Error::io("write start marker", tmp.display(), e))?;
    vfs.rename(&tmp, &path)
        .map_err(|e| Error::io("rename start marker into place", path.display(), e))?;
    sync_dir(vfs, dir)
}

/// Removes a whole segment file (retention: its commits are before the
/// log's first offset).
pub(crate) fn remove_segment(vfs: &dyn Vfs, dir: &Path, name: &str) -> Result<(), Error> {
    let path = dir.join(name);
    match vfs.remove(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove segment", path.display(), e)),
    }
}

/// Opens an existing segment for writing at its end.
pub(crate) fn open_segment_rw(vfs: &dyn Vfs, path: &Path) -> Result<Arc<dyn VfsFile>, Error> {
    vfs.open_rw(path)
        .map_err(|e| Error::io("open segment", path.display(), e))
}

/// Reads the first `len` bytes of a file (all of it when `len` is `None`).
pub(crate) fn read_prefix(vfs: &dyn Vfs, path: &Path, len: Option<u64>) -> Result<Vec<u8>, Error> {
    vfs.read(path, len)
        .map_err(|e| Error::io("read segment", path.display(), e))
}

fn quarantine_path(
    vfs: &dyn Vfs,
    dir: &Path,
    segment: &str,
    position: u64,
) -> Result<PathBuf, Error> {
    let qdir = dir.join(QUARANTINE_DIR);
    vfs.create_dir_all(&qdir)
        .map_err(|e| Error::io("create quarantine directory", qdir.display(), e))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut n = 0u32;
    loop {
        let name = match n {
            0 => format!("{segment}.{position}.{nanos}.cut"),
            n => format!("{segment}.{position}.{nanos}-{n}.cut"),
        };
        let path = qdir.join(name);
        if !vfs.exists(&path) {
            return Ok(path);
        }
        n += 1;
    }
}

/// Copies `bytes` (cut from `segment` at `position`) into a new quarantine
/// file and syncs it, before the caller cuts them from the segment.
pub(crate) fn quarantine_bytes(
    vfs: &dyn Vfs,
    dir: &Path,
    segment: &str,
    position: u64,
    bytes: &[u8],
) -> Result<Quarantined, Error> {
    let path = quarantine_path(vfs, dir, segment, position)?;
    let f = vfs
        .create(&path, true)
        .map_err(|e| Error::io("create quarantine file", path.display(), e))?;
    f.write_all_at(bytes, 0)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write quarantine file", path.display(), e))?;
    // The quarantine directory itself may be new.
    sync_dir(vfs, dir)?;
    sync_dir(vfs, &dir.join(QUARANTINE_DIR))?;
    Ok(Quarantined {
        segment: segment.to_owned(),
        position,
        len: bytes.len() as u64,
        location: path.display().to_string(),
    })
}

/// Moves a whole file (a segment or a leftover) into quarantine.
pub(crate) fn quarantine_file(vfs: &dyn Vfs, dir: &Path, name: &str) -> Result<Quarantined, Error> {
    let from = dir.join(name);
    let len = vfs
        .len(&from)
        .map_err(|e| Error::io("stat", from.display(), e))?;
    let to = quarantine_path(vfs, dir, name, 0)?;
    vfs.rename(&from, &to)
        .map_err(|e| Error::io("move into quarantine", from.display(), e))?;
    sync_dir(vfs, &dir.join(QUARANTINE_DIR))?;
    sync_dir(vfs, dir)?;
    Ok(Quarantined {
        segment: name.to_owned(),
        position: 0,
        len,
        location: to.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_offset_order() {
        assert_eq!(segment_name(42), "00000000000000000042.log");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "42.log",
            "0000000000000000004x.log",
            "00000000000000000042.tmp",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
        assert!(segment_name(9) < segment_name(10));
    }
}
