//! The file operations the disk backend makes, behind one trait, so that
//! crash consistency can be tested on a simulated file system that loses
//! what was not synced (as redb's crash tests and LazyFS do).
//!
//! [`RealFs`] is the operating system's file system, and what
//! [`FsLogStore::open`](crate::FsLogStore::open) uses.
//! [`SimFs`](crate::sim::SimFs) keeps file data and directory entries in
//! memory, each in two states (as last synced, and as written), and can
//! throw away everything not synced, as a power loss does.

use std::any::Any;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use interstice_log::Error;

/// A file system the store runs on. Paths are absolute or relative to the
/// process's directory, as for `std::fs`.
pub trait Vfs: Debug + Send + Sync + 'static {
    /// Whether `path` is a directory (`NotFound` when it does not exist).
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of `dir` (creations, renames) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The names in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// A file's length.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// The first `len` bytes of a file (all of it when `None`).
    fn read(&self, path: &Path, len: Option<u64>) -> io::Result<Vec<u8>>;
    /// Up to `len` bytes of a file from position `at` (fewer at its end).
    fn read_at(&self, path: &Path, at: u64, len: u64) -> io::Result<Vec<u8>>;
    /// Creates a file, empty; with `exclusive`, fails if it exists.
    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn VfsFile>>;
    /// Opens an existing file for reading and writing.
    fn open_rw(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>>;
    /// Renames a file, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file (its directory entry: durable once the directory is
    /// synced).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Takes the writer lock of the log in `dir`, held until the returned
    /// value is dropped.
    fn lock(&self, dir: &Path) -> Result<Box<dyn Any + Send + Sync>, Error>;
}

/// An open file.
pub trait VfsFile: Debug + Send + Sync {
    /// Writes all of `buf` at `at`.
    fn write_all_at(&self, buf: &[u8], at: u64) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes the file's data and metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
    /// Cuts or extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's length.
    fn size(&self) -> io::Result<u64>;
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl Vfs for RealFs {
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        fs::metadata(path).map(|m| m.is_dir())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn read(&self, path: &Path, len: Option<u64>) -> io::Result<Vec<u8>> {
        match len {
            Some(len) => self.read_at(path, 0, len),
            // Sized from the file's length: no growing and copying.
            None => fs::read(path),
        }
    }

    fn read_at(&self, path: &Path, at: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        file.seek(io::SeekFrom::Start(at))?;
        let mut buf = Vec::with_capacity(len.min(size.saturating_sub(at)) as usize);
        file.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn VfsFile>> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if exclusive {
            o.create_new(true);
        } else {
            o.create(true).truncate(true);
        }
        Ok(Arc::new(RealFile(o.open(path)?)))
    }

    fn open_rw(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Arc::new(RealFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn lock(&self, dir: &Path) -> Result<Box<dyn Any + Send + Sync>, Error> {
        Ok(Box::new(crate::lock::DirLock::acquire(dir)?))
    }
}

/// A file of the operating system.
#[derive(Debug)]
struct RealFile(File);

impl VfsFile for RealFile {
    fn write_all_at(&self, buf: &[u8], at: u64) -> io::Result<()> {
        self.0.write_all_at(buf, at)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}
