//! A simulated file system for crash-consistency tests: power loss at any
//! point, with everything not synced thrown away (or torn).
//!
//! Every file has two contents: as last synced (`fdatasync`/`fsync`) and
//! as written since. Every directory entry (a file created, renamed, a
//! directory made) also exists twice: as of the directory's last fsync,
//! and now. [`SimFs::cut_power_after`] makes every operation after the
//! next `n` fail, as if the machine died there; [`SimFs::power_loss`] then
//! keeps only what was synced (optionally with a random part of the rest,
//! sector by sector, as a real disk may), and the file system works again
//! for a restart.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use interstice_log::Error;

use crate::vfs::{Vfs, VfsFile};

/// How much of a file a disk writes at once: a torn write keeps or loses
/// whole sectors.
const SECTOR: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(u64),
}

#[derive(Debug, Default)]
struct Inode {
    synced: Vec<u8>,
    now: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    /// Directory entries now.
    entries: BTreeMap<PathBuf, Entry>,
    /// Directory entries as of each directory's last fsync.
    synced_entries: BTreeMap<PathBuf, Entry>,
    /// Operations left before the power goes (None: it never does).
    ops_left: Option<u64>,
    /// The operation the power went during, once it went.
    died_at: Option<&'static str>,
    /// Operations done, by kind.
    ops: BTreeMap<&'static str, u64>,
    /// Failures to inject: the next operations of each kind that fail.
    failures: BTreeMap<&'static str, u32>,
    /// Whether the next `sync_data` waits for [`SimFs::release_sync`].
    hold_next_sync: bool,
    /// Whether a `sync_data` is waiting now.
    held: bool,
    /// Power losses so far (a held sync that outlives one has no effect).
    power_losses: u64,
}

/// A file system in memory that can lose power. Cheap to clone: clones
/// are the same file system.
#[derive(Clone, Debug, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
    /// Wakes a held sync and those waiting for one to be held.
    held_changed: Arc<Condvar>,
}

fn power_off() -> io::Error {
    io::Error::other("the power is off (simulated)")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: not found", path.display()),
    )
}

/// Whether `path` is the root, which always exists.
fn is_root(path: &Path) -> bool {
    path.parent().is_none()
}

impl SimFs {
    /// An empty file system with the power on.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets `n` more operations happen; every one after that fails, as if
    /// the power went at that moment.
    pub fn cut_power_after(&self, n: u64) {
        self.state().ops_left = Some(n);
    }

    /// The operation during which the power went (`write`, `sync_data`,
    /// `rename`, `sync_dir`, ...), if it went.
    pub fn died_at(&self) -> Option<&'static str> {
        self.state().died_at
    }

    /// How many operations of each kind ran.
    pub fn ops(&self) -> BTreeMap<&'static str, u64> {
        self.state().ops.clone()
    }

    /// Makes the next operation of `kind` (`write`, `sync_data`,
    /// `set_len`, `sync_dir`, ...) fail with an I/O error, as a failing disk
    /// does. A failing `write` still stores its bytes (a write that failed
    /// part-way may have written any of them); other failing operations
    /// change nothing. Call it again to fail more.
    pub fn fail_next(&self, kind: &'static str) {
        *self.state().failures.entry(kind).or_default() += 1;
    }

    /// Makes the next `sync_data` wait, before it takes effect, until
    /// [`SimFs::release_sync`]: to interleave a sync running on one thread
    /// with what another does meanwhile. If the power goes while it waits,
    /// it fails and syncs nothing.
    pub fn hold_next_sync(&self) {
        self.state().hold_next_sync = true;
    }

    /// Waits until a `sync_data` is held (see [`SimFs::hold_next_sync`]).
    pub fn wait_until_held(&self) {
        let mut st = self.state();
        while !st.held {
            st = self
                .held_changed
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Lets a held `sync_data` go on.
    pub fn release_sync(&self) {
        self.state().held = false;
        self.held_changed.notify_all();
    }

    /// Holds this `sync_data` if one was asked to be held.
    fn hold_if_asked(&self) -> io::Result<()> {
        let mut st = self.state();
        if !st.hold_next_sync {
            return Ok(());
        }
        st.hold_next_sync = false;
        st.held = true;
        let losses = st.power_losses;
        self.held_changed.notify_all();
        while st.held {
            st = self
                .held_changed
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
        if st.power_losses != losses {
            return Err(power_off());
        }
        Ok(())
    }

    /// The power goes (if it had not) and comes back: every file keeps its
    /// synced content and every directory its synced entries. With `torn`
    /// (a seed), each unsynced sector of a file is kept or lost at random
    /// and a grown file keeps its old or new length, as a disk that wrote
    /// part of what it was given.
    pub fn power_loss(&self, torn: Option<u64>) {
        let mut st = self.state();
        let mut rng = torn.map(|s| s | 1);
        let mut coin = move || match &mut rng {
            None => false,
            Some(x) => {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                *x & 1 == 1
            }
        };
        // Entries whose directory chain did not survive are gone too.
        let synced = st.synced_entries.clone();
        let survives = |p: &Path| {
            p.ancestors()
                .skip(1)
                .all(|a| is_root(a) || synced.get(a) == Some(&Entry::Dir))
        };
        let entries: BTreeMap<PathBuf, Entry> = synced
            .iter()
            .filter(|(p, _)| survives(p))
            .map(|(p, e)| (p.clone(), *e))
            .collect();
        let live: std::collections::HashSet<u64> = entries
            .values()
            .filter_map(|e| match e {
                Entry::File(i) => Some(*i),
                Entry::Dir => None,
            })
            .collect();
        st.inodes.retain(|i, _| live.contains(i));
        for inode in st.inodes.values_mut() {
            let mut kept = inode.synced.clone();
            if inode.now != inode.synced && torn.is_some() {
                let len = if coin() { inode.now.len() } else { kept.len() };
                kept.resize(len, 0);
                for start in (0..len).step_by(SECTOR) {
                    let end = (start + SECTOR).min(len);
                    if coin() && end <= inode.now.len() {
                        kept[start..end].copy_from_slice(&inode.now[start..end]);
                    }
                }
            }
            inode.synced = kept.clone();
            inode.now = kept;
        }
        st.entries = entries.clone();
        st.synced_entries = entries;
        st.ops_left = None;
        st.died_at = None;
        st.power_losses += 1;
    }

    /// Counts an operation of `kind`, unless the power is off (then, or
    /// when this is the operation it goes during, an error).
    fn op(&self, st: &mut State, kind: &'static str) -> io::Result<()> {
        if st.died_at.is_some() {
            return Err(power_off());
        }
        if let Some(left) = &mut st.ops_left {
            if *left == 0 {
                st.died_at = Some(kind);
                return Err(power_off());
            }
            *left -= 1;
        }
        *st.ops.entry(kind).or_default() += 1;
        Ok(())
    }

    /// Whether this operation of `kind` is one [`SimFs::fail_next`] asked
    /// to fail (and counts it off).
    fn injected_failure(st: &mut State, kind: &'static str) -> bool {
        match st.failures.get_mut(kind) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn file_inode(st: &State, path: &Path) -> io::Result<u64> {
        match st.entries.get(path) {
            Some(Entry::File(i)) => Ok(*i),
            Some(Entry::Dir) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: a directory", path.display()),
            )),
            None => Err(not_found(path)),
        }
    }

    fn parent_exists(st: &State, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(p) if is_root(p) || st.entries.get(p) == Some(&Entry::Dir) => Ok(()),
            _ => Err(not_found(path)),
        }
    }
}

impl Vfs for SimFs {
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let st = self.state();
        match st.entries.get(path) {
            Some(e) => Ok(*e == Entry::Dir),
            None if is_root(path) => Ok(true),
            None => Err(not_found(path)),
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state();
        self.op(&mut st, "mkdir")?;
        let mut missing: Vec<PathBuf> = path
            .ancestors()
            .take_while(|a| !is_root(a))
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        for dir in missing {
            match st.entries.get(&dir) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{}: a file", dir.display()),
                    ));
                }
                None => {
                    st.entries.insert(dir, Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state();
        self.op(&mut st, "sync_dir")?;
        if !is_root(dir) && st.entries.get(dir) != Some(&Entry::Dir) {
            return Err(not_found(dir));
        }
        let now: Vec<(PathBuf, Entry)> = st
            .entries
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, e)| (p.clone(), *e))
            .collect();
        st.synced_entries.retain(|p, _| p.parent() != Some(dir));
        st.synced_entries.extend(now);
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.state();
        if st.died_at.is_some() {
            return Err(power_off());
        }
        Ok(st
            .entries
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn exists(&self, path: &Path) -> bool {
        is_root(path) || self.state().entries.contains_key(path)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let st = self.state();
        let i = Self::file_inode(&st, path)?;
        Ok(st.inodes[&i].now.len() as u64)
    }

    fn read(&self, path: &Path, len: Option<u64>) -> io::Result<Vec<u8>> {
        let st = self.state();
        if st.died_at.is_some() {
            return Err(power_off());
        }
        let i = Self::file_inode(&st, path)?;
        let now = &st.inodes[&i].now;
        let end = len.map_or(now.len(), |l| (l as usize).min(now.len()));
        Ok(now[..end].to_vec())
    }

    fn read_at(&self, path: &Path, at: u64, len: u64) -> io::Result<Vec<u8>> {
        let st = self.state();
        if st.died_at.is_some() {
            return Err(power_off());
        }
        let i = Self::file_inode(&st, path)?;
        let now = &st.inodes[&i].now;
        let start = (at as usize).min(now.len());
        let end = (at.saturating_add(len) as usize).min(now.len());
        Ok(now[start..end].to_vec())
    }

    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn VfsFile>> {
        let mut st = self.state();
        self.op(&mut st, "create")?;
        Self::parent_exists(&st, path)?;
        let inode = match st.entries.get(path) {
            Some(_) if exclusive => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists", path.display()),
                ));
            }
            Some(Entry::File(i)) => {
                let i = *i;
                st.inodes.get_mut(&i).expect("live inode").now.clear();
                i
            }
            Some(Entry::Dir) => return Err(Self::file_inode(&st, path).unwrap_err()),
            None => {
                st.next_inode += 1;
                let i = st.next_inode;
                st.inodes.insert(i, Inode::default());
                st.entries.insert(path.to_path_buf(), Entry::File(i));
                i
            }
        };
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn open_rw(&self, path: &Path) -> io::Result<Arc<dyn VfsFile>> {
        let st = self.state();
        if st.died_at.is_some() {
            return Err(power_off());
        }
        let inode = Self::file_inode(&st, path)?;
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state();
        self.op(&mut st, "rename")?;
        Self::parent_exists(&st, to)?;
        let entry = st.entries.remove(from).ok_or_else(|| not_found(from))?;
        st.entries.insert(to.to_path_buf(), entry);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state();
        self.op(&mut st, "remove")?;
        Self::file_inode(&st, path)?;
        st.entries.remove(path);
        Ok(())
    }

    fn lock(&self, _dir: &Path) -> Result<Box<dyn Any + Send + Sync>, Error> {
        // One process: nothing to lock against.
        Ok(Box::new(()))
    }
}

/// An open file of a [`SimFs`]; it follows its inode through renames.
#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    inode: u64,
}

impl SimFile {
    fn with<T>(&self, kind: &'static str, f: impl FnOnce(&mut Inode) -> T) -> io::Result<T> {
        let mut st = self.fs.state();
        self.fs.op(&mut st, kind)?;
        let fail = SimFs::injected_failure(&mut st, kind);
        let inode = st
            .inodes
            .get_mut(&self.inode)
            .ok_or_else(|| io::Error::other("the file was lost"))?;
        if !fail {
            return Ok(f(inode));
        }
        if kind == "write" {
            f(inode);
        }
        Err(io::Error::other(format!("{kind} failed (injected)")))
    }
}

impl VfsFile for SimFile {
    fn write_all_at(&self, buf: &[u8], at: u64) -> io::Result<()> {
        self.with("write", |i| {
            let end = at as usize + buf.len();
            if i.now.len() < end {
                i.now.resize(end, 0);
            }
            i.now[at as usize..end].copy_from_slice(buf);
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.fs.hold_if_asked()?;
        self.with("sync_data", |i| i.synced = i.now.clone())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with("set_len", |i| i.now.resize(len as usize, 0))
    }

    fn size(&self) -> io::Result<u64> {
        let st = self.fs.state();
        st.inodes
            .get(&self.inode)
            .map(|i| i.now.len() as u64)
            .ok_or_else(|| io::Error::other("the file was lost"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_data_and_entries_are_lost() {
        let fs = SimFs::new();
        let dir = Path::new("/d");
        fs.create_dir_all(dir).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        let a = fs.create(&dir.join("a"), true).unwrap();
        a.write_all_at(b"kept", 0).unwrap();
        a.sync_data().unwrap();
        fs.sync_dir(dir).unwrap();
        a.write_all_at(b"lost", 4).unwrap();
        let b = fs.create(&dir.join("b"), true).unwrap();
        b.write_all_at(b"synced but not linked", 0).unwrap();
        b.sync_data().unwrap();
        fs.power_loss(None);
        assert_eq!(fs.read(&dir.join("a"), None).unwrap(), b"kept");
        assert!(!fs.exists(&dir.join("b")), "its entry was never synced");
        assert_eq!(fs.list(dir).unwrap(), ["a"]);
    }

    #[test]
    fn the_power_goes_after_n_operations() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        fs.cut_power_after(1);
        let f = fs.create(Path::new("/d/f"), false).unwrap();
        assert!(f.write_all_at(b"x", 0).is_err());
        assert_eq!(fs.died_at(), Some("write"));
        assert!(fs.sync_dir(Path::new("/d")).is_err());
        fs.power_loss(None);
        assert!(
            !fs.exists(Path::new("/d")),
            "the directory was never synced"
        );
    }
}
