//! Where things live in a log directory.
//!
//! ```text
//! LOG_DIR/
//!   LOCK                              writer lock (holds the writer's pid)
//!   00000000000000000000.log          segments, named by first offset
//!   00000000000000004096.log
//!   quarantine/                       bytes cut by recovery or truncation
//!     00000000000000004096.log.1830.1764130000123456789.cut
//! ```

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use interstice_log::{Error, Quarantined};

/// Name of the lock file.
pub(crate) const LOCK_FILE: &str = "LOCK";
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
pub(crate) fn list(dir: &Path) -> Result<Listing, Error> {
    let mut listing = Listing {
        segments: Vec::new(),
        temporaries: Vec::new(),
    };
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io("list log directory", dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list log directory", dir.display(), e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
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
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir.display(), e))
}

/// Creates a segment atomically: header written and synced in a temporary
/// file, renamed into place, directory synced. A crash leaves either no
/// segment or a whole header.
pub(crate) fn create_segment(dir: &Path, first_offset: u64) -> Result<File, Error> {
    use std::io::Write;
    let name = segment_name(first_offset);
    let path = dir.join(&name);
    if path.exists() {
        return Err(Error::io(
            "create segment",
            path.display(),
            io::Error::new(io::ErrorKind::AlreadyExists, "segment already exists"),
        ));
    }
    let tmp = dir.join(format!("{name}{TMP_EXT}"));
    let header = interstice_log::codec::SegmentHeader { first_offset }.encode();
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| Error::io("create segment", tmp.display(), e))?;
    file.write_all(&header)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write segment header", tmp.display(), e))?;
    fs::rename(&tmp, &path)
        .map_err(|e| Error::io("rename segment into place", path.display(), e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Opens an existing segment for writing at its end.
pub(crate) fn open_segment_rw(path: &Path) -> Result<File, Error> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open segment", path.display(), e))
}

/// Reads the first `len` bytes of a file (all of it when `len` is `None`).
pub(crate) fn read_prefix(path: &Path, len: Option<u64>) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let file = File::open(path).map_err(|e| Error::io("open segment", path.display(), e))?;
    let mut buf = Vec::new();
    match len {
        Some(len) => {
            buf.reserve_exact(len as usize);
            file.take(len).read_to_end(&mut buf)
        }
        None => (&file).read_to_end(&mut buf),
    }
    .map_err(|e| Error::io("read segment", path.display(), e))?;
    Ok(buf)
}

fn quarantine_path(dir: &Path, segment: &str, position: u64) -> Result<PathBuf, Error> {
    let qdir = dir.join(QUARANTINE_DIR);
    fs::create_dir_all(&qdir)
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
        if !path.exists() {
            return Ok(path);
        }
        n += 1;
    }
}

/// Copies `bytes` (cut from `segment` at `position`) into a new quarantine
/// file and syncs it, before the caller cuts them from the segment.
pub(crate) fn quarantine_bytes(
    dir: &Path,
    segment: &str,
    position: u64,
    bytes: &[u8],
) -> Result<Quarantined, Error> {
    use std::io::Write;
    let path = quarantine_path(dir, segment, position)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io("create quarantine file", path.display(), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write quarantine file", path.display(), e))?;
    sync_dir(&dir.join(QUARANTINE_DIR))?;
    Ok(Quarantined {
        segment: segment.to_owned(),
        position,
        len: bytes.len() as u64,
        location: path.display().to_string(),
    })
}

/// Moves a whole file (a segment or a leftover) into quarantine.
pub(crate) fn quarantine_file(dir: &Path, name: &str) -> Result<Quarantined, Error> {
    let from = dir.join(name);
    let len = fs::metadata(&from)
        .map_err(|e| Error::io("stat", from.display(), e))?
        .len();
    let to = quarantine_path(dir, name, 0)?;
    fs::rename(&from, &to).map_err(|e| Error::io("move into quarantine", from.display(), e))?;
    sync_dir(&dir.join(QUARANTINE_DIR))?;
    sync_dir(dir)?;
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
