//! The journal: a header and then one framed record per change, appended as each change
//! is made (see `docs/decisions/0014-durable-state.md`).
//!
//! ```text
//! file   = MAGIC frame(header) frame(record)*
//! frame  = length:u32le crc32(payload):u32le payload
//! ```
//!
//! A frame is written with one `write` call before the change's answer is sent, so a
//! `kill -9` loses only the requests in flight. Nothing is fsynced per change: a sync
//! task flushes the file every second, so a power cut loses at most about a second,
//! and what it leaves loads as the state of some earlier moment. Reading follows the
//! rules of the issue: a torn last frame (short, or its checksum wrong and nothing after
//! it) is cut off and everything before it loads; a bad frame with frames after it is
//! damage, refused with its offset.
//!
//! A reset or a restore replaces the whole file. The lock belongs to the open file, so the
//! file is rewritten in place (not renamed over): first the new journal is written whole
//! to `PATH.next` (written, synced, then renamed into place, so it exists only whole: the
//! replacement is made from then on), then the file is rewritten and synced, then
//! `PATH.next` is removed. Whoever takes the lock next and finds a `PATH.next` the file does
//! not begin with finishes the rewrite from it ([`redo`]); one the file begins with (the
//! rewrite was done, its removal lost) is only removed, so records appended since are kept.
//! A crash in the middle of a replacement loads either the state before it or the state
//! after it, never a part.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The first bytes of every state file.
pub const MAGIC: &[u8; 8] = b"SOPHICST";

/// The format of the frames and the header; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// No frame is larger (a length above it is damage, not a reason to allocate).
const MAX_FRAME: usize = 64 << 20;

/// The most a torn last frame can be: one record. A longer unreadable tail is damage (a
/// length field garbled in the middle of the file), not a write cut short.
const MAX_TORN: usize = 4 << 20;

/// Why a state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read, written or locked.
    #[error("{path}: {source}")]
    Io {
        /// The state file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another process has the state open.
    #[error(
        "{0} is in use by another sandbox or sophic command (one process at a time writes a state); stop it, or pass another --state"
    )]
    Locked(String),
    /// Not a state file, or damaged before its last record.
    #[error(
        "{path} is damaged: {why}; it was left as it is (move it away, or start over with `sophic sandbox reset`)"
    )]
    Damaged {
        /// The state file (or `snapshot`).
        path: String,
        /// Where and what.
        why: String,
    },
    /// Written by another version, or for another configuration.
    #[error("{path} cannot be used here: {why}")]
    Incompatible {
        /// The state file (or `snapshot`).
        path: String,
        /// Which version or setting differs.
        why: String,
    },
}

impl StateError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// One frame around `payload`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(payload.len()).expect("a record is far below 4 GiB");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What reading a journal's bytes found.
#[derive(Debug)]
pub struct Read<'a> {
    /// The header's payload.
    pub header: &'a [u8],
    /// Each record's payload, in order.
    pub records: Vec<&'a [u8]>,
    /// Where the header frame ends.
    pub head: usize,
    /// Where the last whole frame ends.
    pub end: usize,
    /// Bytes of a torn last frame, cut off (0 when the journal ended cleanly).
    pub torn: usize,
}

/// The payloads of whole frames (records another process appended, read under the lock,
/// so never torn).
pub fn frames<'a>(mut bytes: &'a [u8], name: &str) -> Result<Vec<&'a [u8]>, StateError> {
    let mut payloads = Vec::new();
    while !bytes.is_empty() {
        let whole = bytes.len() >= 8;
        let length = if whole {
            u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize
        } else {
            usize::MAX
        };
        if length > MAX_FRAME || 8 + length > bytes.len() {
            return Err(StateError::Damaged {
                path: name.into(),
                why: "a record another process appended is cut short".into(),
            });
        }
        let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        let payload = &bytes[8..8 + length];
        if crc32fast::hash(payload) != crc {
            return Err(StateError::Damaged {
                path: name.into(),
                why: "a record another process appended fails its checksum".into(),
            });
        }
        payloads.push(payload);
        bytes = &bytes[8 + length..];
    }
    Ok(payloads)
}

/// Splits a journal into frames, by the rules in the module's documentation. `name` is
/// what errors call the bytes (a path, or `snapshot`).
pub fn split<'a>(bytes: &'a [u8], name: &str) -> Result<Read<'a>, StateError> {
    let damaged = |why: String| StateError::Damaged {
        path: name.to_string(),
        why,
    };
    let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err(damaged(
            "it does not start like a sophic sandbox state".into(),
        ));
    };
    let mut at = MAGIC.len();
    let mut payloads = Vec::new();
    let mut torn = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let header_complete = rest.len() >= 8;
        let length = header_complete
            .then(|| u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize);
        match length {
            // No record is empty: zeros where a frame should be are a page the disk never
            // got (a power cut) when nothing but zeros follows, damage otherwise.
            Some(0) if rest.iter().all(|b| *b == 0) => {
                torn = rest.len();
                break;
            }
            Some(0) => {
                return Err(damaged(format!(
                    "the record at byte {at} (record {}) is empty and more follows",
                    payloads.len()
                )));
            }
            Some(length) if length <= MAX_FRAME && 8 + length <= rest.len() => {
                let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
                let payload = &rest[8..8 + length];
                let last = 8 + length == rest.len();
                if crc32fast::hash(payload) != crc {
                    if last {
                        torn = rest.len();
                        break;
                    }
                    return Err(damaged(format!(
                        "the record at byte {at} (record {}) fails its checksum and more follow",
                        payloads.len()
                    )));
                }
                payloads.push(payload);
                at += 8 + length;
                rest = &rest[8 + length..];
            }
            Some(length) if length > MAX_FRAME => {
                return Err(damaged(format!(
                    "the record at byte {at} claims {length} bytes"
                )));
            }
            // A frame cut short by the end of the file: the write in flight at a kill.
            _ => {
                torn = rest.len();
                break;
            }
        }
    }
    let Some((header, records)) = payloads.split_first() else {
        return Err(damaged("it has no header".into()));
    };
    if torn > MAX_TORN {
        return Err(damaged(format!(
            "its last {torn} bytes are not a whole record (a write cut short is at most one record)"
        )));
    }
    Ok(Read {
        header,
        records: records.to_vec(),
        head: MAGIC.len() + 8 + header.len(),
        end: at,
        torn,
    })
}

/// How long a process waits for another's turn with a shared state file: turns last a
/// change each, so only a process that keeps the file (a server on it) makes one wait.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// Takes the file's lock, waiting at most `wait` for another process to give it back,
/// and finishes a replacement a crash interrupted ([`redo`]); the lock is given back if
/// that fails.
fn take_lock(file: &mut File, path: &Path, wait: Duration) -> Result<(), StateError> {
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                return redo(file, path).inspect_err(|_| {
                    let _ = file.unlock();
                });
            }
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked(path.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StateError::io(path, e)),
        }
    }
}

/// Where a replacement of `path` is written whole before the file is rewritten.
pub fn next_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

/// The file is `file` (locked): if a replacement was interrupted (its `.next` is there and
/// the file does not begin with it), rewrites the file from it; then removes it. A `.next`
/// the file already begins with was done (each header has its own nonce): records after
/// it are newer, and kept.
fn redo(file: &mut File, path: &Path) -> Result<(), StateError> {
    use std::io::Read;
    let next = next_path(path);
    let bytes = match std::fs::read(&next) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StateError::io(&next, e)),
    };
    let mut start = vec![0; bytes.len()];
    let done = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_exact(&mut start))
        .is_ok()
        && start == bytes;
    if done {
        // Durable before the redo file goes.
        file.sync_data().map_err(|e| StateError::io(path, e))?;
    } else {
        tracing::warn!(
            "{}: a reset or restore was interrupted; finishing it from {}",
            path.display(),
            next.display()
        );
        rewrite(file, path, &bytes)?;
    }
    remove_next(path);
    Ok(())
}

/// Removes `path`'s `.next` (a replacement finished), the removal made durable. A failure
/// is only a warning: a `.next` the file begins with is never redone.
fn remove_next(path: &Path) {
    let next = next_path(path);
    if let Err(e) = std::fs::remove_file(&next).and_then(|()| sync_dir(path)) {
        tracing::warn!("could not remove {}: {e}", next.display());
    }
}

/// Makes the directory entries of `path`'s directory durable (a rename, a removal).
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all())
}

/// Rewrites the whole file with `bytes`, in place, and syncs it.
fn rewrite(file: &mut File, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    file.set_len(0)
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_data())
        .map_err(|e| StateError::io(path, e))
}

/// Writes `bytes` as `path`'s `.next`: to a temporary name first, synced, then renamed,
/// so that a `.next` is always whole.
fn write_next(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let next = next_path(path);
    let mut partial = next.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&partial, &next))
        // The rename itself made durable.
        .and_then(|()| sync_dir(&next));
    written.map_err(|e| StateError::io(&next, e))
}

/// Where a journal's frames go.
#[derive(Debug)]
enum Sink {
    /// A state file: locked for this process's lifetime, or (`shared`) taken by turns.
    File {
        file: File,
        path: PathBuf,
        shared: Option<Turns>,
    },
    /// Memory, for [`crate::Sandbox::snapshot`] without a file.
    Memory(Vec<u8>),
}

/// A state file taken by turns: how much of it this process has applied.
#[derive(Debug)]
struct Turns {
    /// Bytes of the file applied to this process's state.
    known: u64,
    /// The magic and header frame this process loaded: another process's reset writes
    /// another.
    head: Vec<u8>,
}

/// What another process appended to a shared state file since this one last looked.
pub enum Appended {
    /// Nothing.
    Nothing,
    /// These frames (records), in order, and the file's length with them.
    Records(Vec<u8>, u64),
    /// The file was started over (a reset, a restored snapshot): these are its bytes.
    Everything(Vec<u8>),
}

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    sink: Sink,
    /// A reused buffer for each frame.
    buffer: Vec<u8>,
    /// Frames written since the last sync.
    dirty: bool,
    /// The first write error: the state is then no longer durable, said once.
    failed: bool,
    /// Where the last whole record written ends.
    good_end: u64,
}

/// A state file's header.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header<S> {
    /// `sophic-sandbox-state`.
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// What must match for the records to mean the same thing again.
    pub settings: S,
}

impl Journal {
    /// A journal in memory starting with `header`.
    pub fn memory(header: &[u8]) -> Self {
        let mut bytes = MAGIC.to_vec();
        frame(header, &mut bytes);
        Self::new(Sink::Memory(bytes))
    }

    /// A journal in memory holding `bytes` (a whole journal, checked).
    pub fn memory_from(bytes: &[u8]) -> Self {
        Self::new(Sink::Memory(bytes.to_vec()))
    }

    fn new(sink: Sink) -> Self {
        Self {
            sink,
            buffer: Vec::with_capacity(512),
            dirty: false,
            failed: false,
            good_end: 0,
        }
    }

    /// Opens (creating it if missing) and locks the state file at `path`, and returns its
    /// bytes (the magic and a header are written to a new or empty file first). `shared`:
    /// the lock is waited for, and given back by [`Journal::end_turn`], so that other
    /// processes may take turns; otherwise a locked file is refused and the lock is kept.
    pub fn open(path: &Path, header: &[u8], shared: bool) -> Result<(Self, Vec<u8>), StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StateError::io(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| StateError::io(path, e))?;
        take_lock(
            &mut file,
            path,
            if shared { TURN_WAIT } else { Duration::ZERO },
        )?;
        let bytes = std::fs::read(path).map_err(|e| StateError::io(path, e))?;
        let mut journal = Self::new(Sink::File {
            file,
            path: path.to_path_buf(),
            shared: shared.then(|| Turns {
                known: 0,
                head: Vec::new(),
            }),
        });
        if bytes.is_empty() {
            journal.restart(header, None::<&()>)?;
            let bytes = journal.bytes()?;
            return Ok((journal, bytes));
        }
        journal.good_end = bytes.len() as u64;
        Ok((journal, bytes))
    }

    /// Whether the file is taken by turns.
    pub fn is_shared(&self) -> bool {
        matches!(
            &self.sink,
            Sink::File {
                shared: Some(_),
                ..
            }
        )
    }

    /// Notes that this process's state is the file's first `end` bytes, whose head (magic
    /// and header frame) is `head` bytes long.
    pub fn applied(&mut self, bytes: &[u8], end: usize, head: usize) {
        if let Sink::File {
            shared: Some(turns),
            ..
        } = &mut self.sink
        {
            turns.known = end as u64;
            turns.head = bytes[..head.min(bytes.len())].to_vec();
            self.good_end = end as u64;
        }
    }

    /// Takes the file's lock (waiting for another process's turn to end) and returns what
    /// others appended since this process last looked.
    pub fn begin_turn(&mut self) -> Result<Appended, StateError> {
        use std::io::Read;
        let Sink::File {
            file,
            path,
            shared: Some(turns),
        } = &mut self.sink
        else {
            return Ok(Appended::Nothing);
        };
        take_lock(file, path, TURN_WAIT)?;
        let len = file.metadata().map_err(|e| StateError::io(path, e))?.len();
        // The head first, whatever the length: a reset writes another (each header has its
        // own nonce), and the records after it may add up to the same length.
        let mut head = vec![0; turns.head.len()];
        let same_head = len >= turns.known
            && file
                .seek(SeekFrom::Start(0))
                .and_then(|_| file.read_exact(&mut head))
                .is_ok()
            && head == turns.head;
        if same_head && len == turns.known {
            return Ok(Appended::Nothing);
        }
        let from = if same_head { turns.known } else { 0 };
        let mut rest = Vec::new();
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_to_end(&mut rest))
            .map_err(|e| StateError::io(path, e))?;
        if same_head {
            Ok(Appended::Records(rest, len))
        } else {
            Ok(Appended::Everything(rest))
        }
    }

    /// Notes that this process's state now includes the file's first `len` bytes.
    pub fn applied_up_to(&mut self, len: u64) {
        if let Sink::File {
            shared: Some(turns),
            ..
        } = &mut self.sink
        {
            turns.known = len;
            self.good_end = len;
        }
    }

    /// Gives the file's lock back.
    pub fn end_turn(&mut self) {
        if let Sink::File {
            file,
            path,
            shared: Some(_),
        } = &mut self.sink
            && let Err(e) = file.unlock()
        {
            tracing::warn!("could not unlock {}: {e}", path.display());
        }
    }

    /// Cuts the file to `end` bytes (a torn last frame off).
    pub fn truncate(&mut self, end: usize) -> Result<(), StateError> {
        match &mut self.sink {
            Sink::File { file, path, .. } => {
                self.good_end = end as u64;
                file.set_len(end as u64)
                    .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
                    .map_err(|e| StateError::io(path, e))
            }
            Sink::Memory(bytes) => {
                bytes.truncate(end);
                Ok(())
            }
        }
    }

    /// Starts over with `header` and `first` after it (a reset; a real-time clock's offset),
    /// in one replacement.
    pub fn restart(
        &mut self,
        header: &[u8],
        first: Option<&impl Serialize>,
    ) -> Result<(), StateError> {
        let mut bytes = MAGIC.to_vec();
        frame(header, &mut bytes);
        let head = bytes.len();
        if let Some(record) = first {
            frame(
                &serde_json::to_vec(record).expect("records serialize"),
                &mut bytes,
            );
        }
        self.replace(&bytes, head)
    }

    /// Replaces everything with `bytes` (a whole journal, whose head is `head` bytes). An
    /// error means the replacement was not made; once its `.next` is written it is made,
    /// and a rewrite that then fails is finished by whoever takes the file next (nothing
    /// is appended here until then).
    pub fn replace(&mut self, bytes: &[u8], head: usize) -> Result<(), StateError> {
        match &mut self.sink {
            Sink::File { file, path, shared } => {
                write_next(path, bytes)?;
                // Made: from here on the state is the replacement's.
                if let Some(turns) = shared {
                    turns.known = bytes.len() as u64;
                    turns.head = bytes[..head].to_vec();
                }
                self.good_end = bytes.len() as u64;
                match rewrite(file, path, bytes) {
                    Ok(()) => {
                        self.failed = false;
                        remove_next(path);
                    }
                    Err(e) => {
                        tracing::error!(
                            "{e}; the replacement is kept in {} and finished at the next start; changes from now on are not kept",
                            next_path(path).display()
                        );
                        self.failed = true;
                    }
                }
                Ok(())
            }
            Sink::Memory(memory) => {
                memory.clear();
                memory.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Appends one record. A write error is logged once; the sandbox goes on serving
    /// from memory (its state is then no longer kept).
    pub fn append(&mut self, record: &impl Serialize) {
        self.buffer.clear();
        self.buffer.extend_from_slice(&[0; 8]);
        serde_json::to_writer(&mut self.buffer, record).expect("records serialize");
        let length = u32::try_from(self.buffer.len() - 8).expect("a record is far below 4 GiB");
        let crc = crc32fast::hash(&self.buffer[8..]);
        self.buffer[..4].copy_from_slice(&length.to_le_bytes());
        self.buffer[4..8].copy_from_slice(&crc.to_le_bytes());
        match &mut self.sink {
            // After a failed write nothing more is written: a later record after a torn
            // one would turn a torn tail into damage in the middle.
            Sink::File { .. } if self.failed => {}
            Sink::File { file, path, shared } => {
                if let Err(e) = file.write_all(&self.buffer) {
                    tracing::error!(
                        "could not write to {}: {e}; changes from now on are not kept",
                        path.display()
                    );
                    self.failed = true;
                    // Whatever part was written is cut off again, if the disk lets us.
                    let _ = file.set_len(self.good_end);
                } else {
                    self.good_end += self.buffer.len() as u64;
                    if let Some(turns) = shared {
                        turns.known = self.good_end;
                    }
                }
                self.dirty = true;
            }
            Sink::Memory(bytes) => bytes.extend_from_slice(&self.buffer),
        }
    }

    /// Flushes what was written to the disk, if anything was.
    pub fn sync(&mut self) {
        if let Sink::File { file, path, .. } = &mut self.sink
            && std::mem::take(&mut self.dirty)
            && let Err(e) = file.sync_data()
        {
            tracing::warn!("could not sync {}: {e}", path.display());
        }
    }

    /// Another handle on the state file, to flush it without holding the journal.
    pub fn sync_handle(&self) -> Option<File> {
        match &self.sink {
            Sink::File { file, .. } => file.try_clone().ok(),
            Sink::Memory(_) => None,
        }
    }

    /// Gives the file's lock back for good (the syncer's handle on the same open file
    /// would otherwise keep it until that task ends).
    pub fn close(&mut self) {
        self.sync();
        if let Sink::File { file, .. } = &self.sink {
            let _ = file.unlock();
        }
    }

    /// Stops writing: the state is no longer kept (a failed reset).
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The whole journal as it stands (a snapshot).
    pub fn bytes(&self) -> Result<Vec<u8>, StateError> {
        match &self.sink {
            Sink::File { path, .. } => std::fs::read(path).map_err(|e| StateError::io(path, e)),
            Sink::Memory(bytes) => Ok(bytes.clone()),
        }
    }

    /// The state file, if the journal is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.sink {
            Sink::File { path, .. } => Some(path),
            Sink::Memory(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(records: &[&[u8]]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        frame(b"{}", &mut bytes);
        for record in records {
            frame(record, &mut bytes);
        }
        bytes
    }

    fn temp_state(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "sophic-journal-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        (dir, path)
    }

    #[test]
    fn a_replacement_cut_short_is_finished_by_whoever_takes_the_file_next() {
        let (dir, path) = temp_state("redo");
        let (before, after) = (journal(&[b"one"]), journal(&[b"two", b"three"]));
        // A crash in the middle of rewriting the file, its replacement written whole.
        std::fs::write(&path, &after[..after.len() / 2]).unwrap();
        std::fs::write(next_path(&path), &after).unwrap();
        let (mut journal, bytes) = Journal::open(&path, b"{}", false).unwrap();
        assert_eq!(bytes, after, "the replacement was finished");
        assert!(!next_path(&path).exists());
        // A replacement that completes leaves the new bytes and no `.next`.
        journal.replace(&before, MAGIC.len() + 8 + 2).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!next_path(&path).exists());
        drop(journal);
        // The same, seen by a process taking turns, at its next turn.
        let (mut shared, bytes) = Journal::open(&path, b"{}", true).unwrap();
        assert_eq!(bytes, before);
        shared.applied(&bytes, bytes.len(), MAGIC.len() + 8 + 2);
        shared.end_turn();
        // Another process's reset (another header) is cut short while this one waits.
        let mut reset = MAGIC.to_vec();
        frame(br#"{"nonce":"2"}"#, &mut reset);
        frame(b"four", &mut reset);
        std::fs::write(&path, &reset[..reset.len() - 3]).unwrap();
        std::fs::write(next_path(&path), &reset).unwrap();
        match shared.begin_turn().unwrap() {
            Appended::Everything(bytes) => assert_eq!(bytes, reset),
            _ => panic!("a finished reset is a new state"),
        }
        assert!(!next_path(&path).exists());
        drop(shared);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_redo_file_left_behind_never_undoes_newer_records() {
        let (dir, path) = temp_state("stale");
        let replaced = journal(&[b"one"]);
        let (mut open, _) = Journal::open(&path, b"{}", false).unwrap();
        open.replace(&replaced, MAGIC.len() + 8 + 2).unwrap();
        open.append(&"two");
        drop(open);
        let kept = std::fs::read(&path).unwrap();
        assert!(kept.len() > replaced.len());
        // Its removal lost (a power cut, a failed unlink): the `.next` is back.
        std::fs::write(next_path(&path), &replaced).unwrap();
        let (_, bytes) = Journal::open(&path, b"{}", false).unwrap();
        assert_eq!(
            bytes, kept,
            "the record appended after the replacement is kept"
        );
        assert!(!next_path(&path).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_frame_is_cut_and_damage_before_the_end_is_refused() {
        let whole = journal(&[b"one", b"two"]);
        let read = split(&whole, "s").unwrap();
        assert_eq!((read.records.len(), read.torn), (2, 0));
        // Cut anywhere inside the last frame: the first record loads.
        for cut in 1..(8 + 3) {
            let bytes = &whole[..whole.len() - cut];
            let read = split(bytes, "s").unwrap();
            assert_eq!(read.records, vec![b"one".as_slice()], "cut {cut}");
            assert_eq!(read.torn, 8 + 3 - cut);
        }
        // The last frame's bytes garbled (a page of zeros after a power cut): torn.
        let mut garbled = whole.clone();
        let n = garbled.len();
        garbled[n - 1] ^= 0xFF;
        assert_eq!(split(&garbled, "s").unwrap().records.len(), 1);
        // The first record garbled, the second intact: damage.
        let mut damaged = whole.clone();
        let first = MAGIC.len() + 8 + 2 + 8;
        damaged[first] ^= 0xFF;
        let refused = split(&damaged, "s").unwrap_err().to_string();
        assert!(
            refused.contains("fails its checksum and more follow"),
            "{refused}"
        );
        // A length past any sane size: damage, with no allocation.
        let mut huge = whole.clone();
        huge[MAGIC.len() + 10..MAGIC.len() + 14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(split(&huge, "s").is_err());
        // A page of zeros after the last record (a power cut): torn, cut off.
        let mut zeros = whole.clone();
        zeros.extend_from_slice(&[0; 4096]);
        let read = split(&zeros, "s").unwrap();
        assert_eq!((read.records.len(), read.torn), (2, 4096));
        // Zeros with a record after them: damage.
        let mut hole = MAGIC.to_vec();
        frame(b"{}", &mut hole);
        hole.extend_from_slice(&[0; 16]);
        frame(b"one", &mut hole);
        assert!(split(&hole, "s").is_err());
        // Not a state at all.
        assert!(split(b"{\"orders\": []}", "s").is_err());
        assert!(split(MAGIC, "s").is_err());
    }
}
