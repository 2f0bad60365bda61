//! The writer lock: one process writes a log directory at a time.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use interstice_log::Error;

use crate::layout::LOCK_FILE;

/// An exclusive `flock` on `LOG_DIR/LOCK`, released when dropped (or when
/// the process dies, so a crash never leaves a stale lock). The file holds
/// the owner's pid for the error message of the next would-be writer.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("create lock file", path.display(), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(Error::Locked {
                    location: dir.display().to_string(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", path.display(), e)),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| write!(file, "{}", std::process::id()))
            .map_err(|e| Error::io("write lock file", path.display(), e))?;
        Ok(Self { _file: file })
    }
}
