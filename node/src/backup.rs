//! Backups of a home: the disk side of [`outpost_store::backup`].
//!
//! ```text
//! DIR/                                   the backup directory
//!   1795910400-<chain id, 32 hex>/       one chain, named by its full backup's time
//!     0000/manifest, 0000/seg-000000 …   the full backup
//!     0001/…                             incrementals, in order
//!     .0002.partial/                     one being written (or killed): never read
//! ```
//!
//! A backup holds the store's rows (read from one redb read transaction,
//! so a running node's backup is consistent), the key files as stored
//! (encrypted ones stay encrypted) and the encrypted blobs. Each backup is
//! written under a `.partial` name, every file synced, then renamed: a
//! crash or `kill -9` leaves a partial directory that nothing reads and
//! the next backup removes.
//!
//! The backup key is `keys/backup.key` (0600, armored), made at the first
//! backup; `outpost backup key` prints it for offline custody, and a
//! restore on a new machine takes it with `--key FILE`.

use crate::home::{Home, write_private};
use anyhow::{Context, Result, bail};
use outpost_store::Store;
use outpost_store::backup::schedule::{self, Done, Plan, Weekday};
use outpost_store::backup::{
    self as format, BackupKey, DecodeError, Kind, Manifest, Record, SegmentAt, SegmentInfo, Space, State, Writer,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub mod daemon;

/// The backup key file, relative to the home.
pub const KEY_FILE: &str = "keys/backup.key";
/// The node setting holding the schedule ([`Schedule`], JSON).
pub const SCHEDULE_SETTING: &str = "backup-schedule";
/// The node setting holding what the scheduler did ([`Status`], JSON).
pub const STATUS_SETTING: &str = "backup-status";
/// The file a restore leaves in the new home, read at its first start.
pub const RESTORED_FILE: &str = "restored.json";
/// How many chains are kept when nothing else is said.
pub const KEEP_DEFAULT: usize = 4;
/// How often the daemon checks whether a backup is due.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// A backup could not be read: bad, incomplete, or made with another key.
/// `outpost` exits with code 7 (4 for a wrong key).
#[derive(Debug)]
pub struct Invalid {
    /// The file or directory at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
    /// The key does not fit (not damage).
    pub wrong_key: bool,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for Invalid {}

fn invalid(path: &Path, problem: impl Into<String>) -> anyhow::Error {
    Invalid {
        path: path.to_owned(),
        problem: problem.into(),
        wrong_key: false,
    }
    .into()
}

fn decode_error(path: &Path, e: DecodeError) -> anyhow::Error {
    Invalid {
        path: path.to_owned(),
        wrong_key: matches!(e, DecodeError::WrongKey { .. }),
        problem: e.to_string(),
    }
    .into()
}

/// Reads an armored backup key from a file.
pub fn read_key_file(path: &Path) -> Result<BackupKey> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read the backup key {}", path.display()))?;
    if meta.len() > format::KEY_TEXT_BYTES_MAX as u64 {
        bail!(
            "{} is not a backup key: it is {} bytes long",
            path.display(),
            meta.len()
        );
    }
    let text = zeroize::Zeroizing::new(
        fs::read(path).with_context(|| format!("cannot read the backup key {}", path.display()))?,
    );
    format::decode_key_text(&text).with_context(|| format!("cannot use {} as the backup key", path.display()))
}

/// The home's backup key, if made.
pub fn key(home: &Home) -> Result<Option<BackupKey>> {
    let path = home.dir().join(KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    read_key_file(&path).map(Some)
}

/// The home's backup key, made (0600) on first use.
pub fn key_or_create(home: &Home) -> Result<BackupKey> {
    if let Some(k) = key(home)? {
        return Ok(k);
    }
    let k = BackupKey(rand::random());
    write_private(&home.dir().join(KEY_FILE), k.to_text().as_bytes())?;
    Ok(k)
}

/// A backup made.
#[derive(Debug, Clone, Serialize)]
pub struct Made {
    /// "full" or "incremental".
    pub kind: &'static str,
    /// Its directory.
    pub path: PathBuf,
    /// The chain id (hex).
    pub chain: String,
    /// Its position in the chain.
    pub seq: u32,
    /// Rows and files written (changed ones only, for an incremental).
    pub records: u64,
    /// Rows and files the home holds.
    pub items: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Chains removed to keep the number asked for.
    pub removed: Vec<PathBuf>,
    /// Why an incremental became a full backup, if it did.
    pub note: Option<String>,
}

/// Progress of a backup: items read, bytes written.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

fn chain_name(created: u64, chain: &[u8; 16]) -> String {
    format!("{created:010}-{}", hex::encode(chain))
}

fn is_chain_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 43
        && b[10] == b'-'
        && b[..10].iter().all(u8::is_ascii_digit)
        && b[11..].iter().all(u8::is_ascii_hexdigit)
}

/// The chains in `dir`, oldest first.
pub fn chains(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read the backup directory {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read the backup directory {}", dir.display()))?;
        if entry.file_name().to_str().is_some_and(is_chain_name) && entry.path().is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The chains in `dir` that hold a complete full backup, oldest first.
/// A chain whose full backup was interrupted is not one.
pub fn complete_chains(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(chains(dir)?.into_iter().filter(|c| c.join("0000").is_dir()).collect())
}

/// The complete backups of a chain directory, by sequence number.
fn backups(chain: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(chain).with_context(|| format!("cannot read {}", chain.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", chain.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 4
            && let Ok(seq) = name.parse::<u32>()
        {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The chain `from` names: a chain directory itself, or the newest chain
/// of a backup directory.
pub fn resolve_chain(from: &Path) -> Result<PathBuf> {
    if !from.is_dir() {
        bail!(
            "{} is not a directory: give the backup directory (or one chain in it)",
            from.display()
        );
    }
    if from.file_name().and_then(|n| n.to_str()).is_some_and(is_chain_name) {
        return Ok(from.to_owned());
    }
    chains(from)?.pop().ok_or_else(|| {
        invalid(
            from,
            "holds no backup (no chain directory); make one with `outpost backup create --to DIR`",
        )
    })
}

fn segment_name(index: usize) -> String {
    format!("seg-{index:06}")
}

fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>> {
    let len = fs::metadata(path)
        .map_err(|e| invalid(path, format!("is missing or unreadable ({e})")))?
        .len();
    if len > max as u64 {
        return Err(invalid(
            path,
            format!("is {len} bytes, over the limit of {max}: it is not a backup file"),
        ));
    }
    fs::read(path).map_err(|e| invalid(path, format!("cannot be read ({e})")))
}

/// Reads a chain in order, up to `upto` (inclusive; `None`: all),
/// checking every link, size, hash, authentication and state digest, and
/// hands each backup's records to `visit`. Returns the manifests and the
/// state after the last.
pub fn read_chain(
    chain: &Path,
    key: &BackupKey,
    upto: Option<u32>,
    visit: &mut dyn FnMut(&Manifest, Vec<Record>) -> Result<()>,
) -> Result<(Vec<Manifest>, State)> {
    let list = backups(chain)?;
    if list.is_empty() {
        return Err(invalid(
            chain,
            "holds no complete backup (a backup that was interrupted leaves only a .partial directory)",
        ));
    }
    if let Some(n) = upto
        && !list.iter().any(|(s, _)| *s == n)
    {
        bail!(
            "{} has no backup number {n}; it holds {}",
            chain.display(),
            list.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut manifests: Vec<Manifest> = Vec::new();
    let mut state = State::default();
    let mut parent = [0u8; 32];
    for (expected, (seq, dir)) in list.iter().enumerate() {
        if upto.is_some_and(|n| *seq > n) {
            break;
        }
        if *seq as usize != expected {
            return Err(invalid(
                chain,
                format!(
                    "backup {expected:04} is missing (the next one is {seq:04}): the incrementals after it cannot be applied; restore with --upto {}",
                    expected.saturating_sub(1)
                ),
            ));
        }
        let mpath = dir.join("manifest");
        let bytes = read_bounded(&mpath, format::MANIFEST_BYTES_MAX)?;
        let m = format::decode_manifest(&bytes, key).map_err(|e| decode_error(&mpath, e))?;
        let chain_id = chain
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n[11..].to_owned())
            .unwrap_or_default();
        if hex::encode(m.chain) != chain_id || m.seq != *seq {
            return Err(invalid(
                &mpath,
                format!(
                    "belongs to chain {} position {}, not here: backups were moved between chains",
                    hex::encode(m.chain),
                    m.seq
                ),
            ));
        }
        if m.parent != parent {
            return Err(invalid(
                &mpath,
                format!(
                    "does not follow backup {:04} of its chain (its parent link differs): a backup was replaced or reordered",
                    seq.saturating_sub(1)
                ),
            ));
        }
        let mut records = Vec::new();
        for (i, info) in m.segments.iter().enumerate() {
            let spath = dir.join(segment_name(i));
            let sbytes = read_bounded(&spath, format::SEGMENT_BYTES_MAX)?;
            if sbytes.len() as u64 != info.bytes {
                return Err(invalid(
                    &spath,
                    format!(
                        "is {} bytes but the manifest says {}: the file was truncated or replaced",
                        sbytes.len(),
                        info.bytes
                    ),
                ));
            }
            if format::file_hash(&sbytes) != info.hash {
                return Err(invalid(
                    &spath,
                    "does not match the hash in its manifest: its bytes were altered",
                ));
            }
            let at = SegmentAt {
                chain: m.chain,
                seq: *seq,
                index: i as u32,
            };
            records.extend(format::open_segment(&sbytes, key, at).map_err(|e| decode_error(&spath, e))?);
        }
        if let Some(extra) = fs::read_dir(dir)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("seg-") && n[4..].parse::<usize>().is_ok_and(|i| i >= m.segments.len()))
        {
            return Err(invalid(
                &dir.join(extra),
                "is not listed in its manifest: it does not belong to this backup",
            ));
        }
        if records.len() as u64 != m.records {
            return Err(invalid(
                &mpath,
                format!("lists {} records but its segments hold {}", m.records, records.len()),
            ));
        }
        state.apply(&records);
        if state.digest() != m.state_digest {
            return Err(invalid(
                &mpath,
                "the chain up to here does not add up to the state it recorded: the backup is inconsistent",
            ));
        }
        visit(&m, records)?;
        parent = format::file_hash(&bytes);
        manifests.push(m);
    }
    Ok((manifests, state))
}

fn create_dir_private(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))
}

fn write_file_synced(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {} (is the disk full?)", path.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

/// Every file of the home a backup holds: key files (but the backup key)
/// and blob files, by relative path.
fn home_files(home: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![String::from("keys"), String::from("blobs")];
    while let Some(rel) = stack.pop() {
        let dir = home.join(&rel);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let path = format!("{rel}/{name}");
            if name.ends_with(".tmp") || path == KEY_FILE || !format::is_safe_path(path.as_bytes()) {
                continue;
            }
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", dir.display()))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Makes a backup of the home at `home` (its store open as `store`) into
/// `to`: a full one (`Some(Full)`), an incremental on the newest chain
/// (`Some(Incremental)`), or an incremental if a chain exists and a full
/// one otherwise (`None`). Keeps the newest `keep` chains if given.
// Each argument is a distinct input of one operation; `now` and `progress`
// are separate so that callers (CLI, daemon, tests) choose the clock and display.
#[allow(clippy::too_many_arguments)]
pub fn create(
    home: &Path,
    store: &Store,
    to: &Path,
    key: &BackupKey,
    want: Option<Kind>,
    keep: Option<usize>,
    now: u64,
    progress: Progress,
) -> Result<Made> {
    create_dir_private(to)?;
    let mut note = None;
    // The chain to extend and its state, for an incremental.
    let base = match want {
        Some(Kind::Full) => None,
        _ => match complete_chains(to)?.pop() {
            None if want == Some(Kind::Incremental) => bail!(
                "{} holds no full backup to add an incremental to: make one with `outpost backup create --full --to {}`",
                to.display(),
                to.display()
            ),
            None => None,
            Some(chain) => match read_chain(&chain, key, None, &mut |_, _| Ok(())) {
                Ok((manifests, state)) => Some((chain, manifests, state)),
                Err(e) if want == Some(Kind::Incremental) => {
                    return Err(e.context("the newest chain cannot be extended: make a full backup (--full)"));
                }
                Err(e) => {
                    note = Some(format!(
                        "a full backup was made because the newest chain cannot be extended: {e:#}"
                    ));
                    None
                }
            },
        },
    };
    let (kind, chain_dir, chain, seq, parent, previous) = match base {
        Some((dir, manifests, state)) => {
            let last = manifests.last().expect("read_chain returns at least one");
            let parent = format::file_hash(&fs::read(dir.join(format!("{:04}", last.seq)).join("manifest"))?);
            (Kind::Incremental, dir, last.chain, last.seq + 1, parent, state)
        }
        None => {
            let chain: [u8; 16] = rand::random();
            let dir = to.join(chain_name(now, &chain));
            create_dir_private(&dir)?;
            (Kind::Full, dir, chain, 0, [0; 32], State::default())
        }
    };
    // A full backup interrupted by a crash left a chain without one.
    for stale in chains(to)? {
        if stale != chain_dir && !stale.join("0000").is_dir() {
            fs::remove_dir_all(&stale).with_context(|| format!("cannot remove {}", stale.display()))?;
        }
    }
    // A partial backup left by a crash is never read; remove it.
    for entry in fs::read_dir(&chain_dir)?.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            fs::remove_dir_all(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    let partial = chain_dir.join(format!(".{seq:04}.partial"));
    create_dir_private(&partial)?;
    let mut writer = Writer::new(previous);
    let mut segments: Vec<SegmentInfo> = Vec::new();
    let (mut items, mut bytes) = (0u64, 0u64);
    let write_segment = |plain: Vec<u8>, segments: &mut Vec<SegmentInfo>, bytes: &mut u64| -> Result<()> {
        let index = segments.len();
        let at = SegmentAt {
            chain,
            seq,
            index: index as u32,
        };
        let sealed = format::seal_segment(key, at, &plain, rand::random());
        write_file_synced(&partial.join(segment_name(index)), &sealed, 0o600)?;
        *bytes += sealed.len() as u64;
        segments.push(SegmentInfo {
            bytes: sealed.len() as u64,
            hash: format::file_hash(&sealed),
        });
        Ok(())
    };
    store.for_each_row(|space, k, v| -> Result<()> {
        items += 1;
        if let Some(plain) = writer.add(space, k, v) {
            write_segment(plain, &mut segments, &mut bytes)?;
        }
        if items % 256 == 0 {
            progress(items, bytes);
        }
        Ok(())
    })?;
    for rel in home_files(home)? {
        let path = home.join(&rel);
        let content = match fs::read(&path) {
            Ok(c) => c,
            // A blob removed while we read: it is not in this backup.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if content.len() > format::RECORD_VALUE_BYTES_MAX {
            bail!(
                "{} is {} bytes, more than a backup holds in one file",
                path.display(),
                content.len()
            );
        }
        items += 1;
        if let Some(plain) = writer.add(Space::File, rel.as_bytes(), &content) {
            write_segment(plain, &mut segments, &mut bytes)?;
        }
        progress(items, bytes);
    }
    let (rest, state, records) = writer.finish();
    for plain in rest {
        write_segment(plain, &mut segments, &mut bytes)?;
    }
    let manifest = Manifest {
        chain,
        seq,
        parent,
        kind,
        created: now,
        state_digest: state.digest(),
        records,
        segments: segments.clone(),
    };
    let sealed = format::seal_manifest(key, &manifest, rand::random());
    bytes += sealed.len() as u64;
    write_file_synced(&partial.join("manifest"), &sealed, 0o600)?;
    sync_dir(&partial)?;
    let done = chain_dir.join(format!("{seq:04}"));
    fs::rename(&partial, &done)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), done.display()))?;
    sync_dir(&chain_dir)?;
    sync_dir(to)?;
    progress(items, bytes);
    let removed = match keep {
        Some(n) => prune(to, n.max(1), &chain_dir)?,
        None => Vec::new(),
    };
    Ok(Made {
        kind: kind.name(),
        path: done,
        chain: hex::encode(chain),
        seq,
        records,
        items: state.len(),
        segments: segments.len(),
        bytes,
        removed,
        note,
    })
}

/// Removes the oldest chains so that `keep` remain (never `current`).
fn prune(to: &Path, keep: usize, current: &Path) -> Result<Vec<PathBuf>> {
    let all = chains(to)?;
    let excess = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for old in all.into_iter().take(excess) {
        if old == current {
            continue;
        }
        fs::remove_dir_all(&old).with_context(|| format!("cannot remove the old backup chain {}", old.display()))?;
        removed.push(old);
    }
    Ok(removed)
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The chain checked.
    pub chain: PathBuf,
    /// Its backups: (sequence, kind, created).
    pub backups: Vec<(u32, &'static str, u64)>,
    /// Rows and files after the last one.
    pub items: usize,
    /// Interrupted backups found (never read; removed by the next backup).
    pub partial: Vec<PathBuf>,
}

/// Checks the chain `from` names ([`resolve_chain`]) completely.
pub fn verify(from: &Path, key: &BackupKey) -> Result<Verified> {
    let chain = resolve_chain(from)?;
    let (manifests, state) = read_chain(&chain, key, None, &mut |_, _| Ok(()))?;
    let partial = fs::read_dir(&chain)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .map(|e| e.path())
        .collect();
    Ok(Verified {
        chain,
        backups: manifests.iter().map(|m| (m.seq, m.kind.name(), m.created)).collect(),
        items: state.len(),
        partial,
    })
}

/// What a restore wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restored {
    /// The chain restored from.
    pub chain: PathBuf,
    /// The last backup applied.
    pub upto: u32,
    /// When that backup was made.
    pub created: u64,
    /// Rows and files restored.
    pub items: usize,
}

/// Restores the chain `from` names up to `upto` (default: the newest)
/// into the new home `to`, which must not exist or be empty. The whole
/// chain is checked first; it is then written under a temporary name
/// beside `to` and renamed, so a failure leaves `to` as it was.
pub fn restore(from: &Path, to: &Path, key: &BackupKey, upto: Option<u32>) -> Result<Restored> {
    if to.exists() {
        let mut entries = fs::read_dir(to).with_context(|| format!("cannot read {}", to.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: a restore writes a new home; give a new or empty directory with --home",
                to.display()
            );
        }
    }
    let chain = resolve_chain(from)?;
    // Check everything before writing anything.
    let (manifests, _) = read_chain(&chain, key, upto, &mut |_, _| Ok(()))?;
    let last = manifests.last().expect("read_chain returns at least one").clone();
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = to
        .file_name()
        .context("the new home needs a directory name")?
        .to_string_lossy();
    let tmp = parent.join(format!(".{name}.restoring-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    let result = (|| -> Result<usize> {
        create_dir_private(&tmp)?;
        create_dir_private(&tmp.join("keys"))?;
        let store_path = tmp.join("outpost.redb");
        // An empty redb file; the rows, the schema version included, come
        // from the backup.
        let store = Store::open(&store_path)?;
        fs::set_permissions(&store_path, fs::Permissions::from_mode(0o600))?;
        let (_, state) = read_chain(&chain, key, upto, &mut |_, records| {
            store.apply_backup_records(&records)?;
            for r in records.iter().filter(|r| r.space == Space::File) {
                let rel = std::str::from_utf8(&r.key).expect("decode_records checks file paths");
                let path = tmp.join(rel);
                match &r.value {
                    Some(v) => {
                        let dir = path.parent().expect("a checked path has a parent");
                        create_dir_private(dir)?;
                        write_private(&path, v)?;
                    }
                    None => match fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                        }
                        _ => {}
                    },
                }
            }
            Ok(())
        })?;
        drop(store);
        write_private(&tmp.join(KEY_FILE), key.to_text().as_bytes())?;
        Ok(state.len())
    })();
    let items = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e.context(format!("nothing was restored into {}", to.display())));
        }
    };
    let restored = Restored {
        chain,
        upto: last.seq,
        created: last.created,
        items,
    };
    write_private(&tmp.join(RESTORED_FILE), serde_json::to_string(&restored)?.as_bytes())?;
    if to.exists() {
        fs::remove_dir(to).with_context(|| format!("cannot replace the empty {}", to.display()))?;
    }
    fs::rename(&tmp, to).with_context(|| format!("cannot rename {} to {}", tmp.display(), to.display()))?;
    sync_dir(parent)?;
    Ok(restored)
}

/// The backup schedule of a node (the setting [`SCHEDULE_SETTING`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Schedule {
    /// The backup directory.
    pub dir: PathBuf,
    /// Chains kept.
    pub keep: usize,
    /// Daily backup time, `HH:MM` UTC.
    pub daily_at: String,
    /// The weekly full backup's day, `mon`…`sun`.
    pub full_on: String,
}

impl Schedule {
    /// Checks the fields and returns the pure plan.
    pub fn plan(&self) -> Result<Plan> {
        let daily_at = schedule::parse_time_of_day(&self.daily_at).with_context(|| {
            format!(
                "--daily-at {:?} is not a time of day: give HH:MM in UTC, such as 02:00",
                self.daily_at
            )
        })?;
        let full_on = Weekday::parse(&self.full_on).with_context(|| {
            format!(
                "--full-on {:?} is not a day: give mon, tue, wed, thu, fri, sat or sun",
                self.full_on
            )
        })?;
        if self.keep == 0 {
            bail!("--keep 0 would remove every backup: keep at least 1 chain");
        }
        if !self.dir.is_absolute() {
            bail!(
                "the backup directory {} must be an absolute path (the node may run from another directory)",
                self.dir.display()
            );
        }
        Ok(Plan { daily_at, full_on })
    }
}

/// What the scheduler did (the setting [`STATUS_SETTING`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// The last successful backup (seconds).
    pub last: Option<u64>,
    /// The last successful full backup.
    pub last_full: Option<u64>,
    /// The last failed scheduled attempt.
    pub failed: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Status {
    /// The pure view.
    pub fn done(&self) -> Done {
        Done {
            any: self.last,
            full: self.last_full,
            failed: self.failed,
        }
    }

    /// Is the last attempt a failure?
    pub fn failing(&self) -> bool {
        self.failed.is_some_and(|f| self.last.is_none_or(|l| f > l))
    }
}

/// The stored schedule, if any.
pub fn schedule_of(store: &Store) -> Result<Option<Schedule>> {
    match store.setting(SCHEDULE_SETTING)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v).context("the stored backup schedule is damaged: set it again"),
    }
}

/// The stored status.
pub fn status_of(store: &Store) -> Result<Status> {
    Ok(store
        .setting(STATUS_SETTING)?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default())
}

/// Stores the status.
pub fn set_status(store: &Store, s: &Status) -> Result<()> {
    store.set_settings(&[(STATUS_SETTING, &serde_json::to_vec(s)?)])?;
    Ok(())
}

/// Records a successful backup in the status.
pub fn note_made(store: &Store, made: &Made, now: u64) -> Result<()> {
    let mut s = status_of(store)?;
    s.last = Some(now);
    if made.kind == "full" {
        s.last_full = Some(now);
    }
    s.error = None;
    set_status(store, &s)
}

/// A one-line summary of a backup for the audit log (no secrets).
pub fn audit_detail(m: &Made) -> String {
    format!(
        "{} backup {} of chain {}: {} records, {} segments, {} bytes",
        m.kind,
        m.seq,
        &m.chain[..16],
        m.records,
        m.segments,
        m.bytes
    )
}

/// At the first start of a restored home: records the restore in the
/// audit log and starts a new audit chain for this device, so that its
/// entries cannot collide with entries the old node wrote after the
/// backup. Does nothing for a home that was not restored.
pub fn after_restore(local: &mut crate::Local, pass: &crate::Passphrase) -> Result<()> {
    let marker = local.home.dir().join(RESTORED_FILE);
    let Ok(text) = fs::read_to_string(&marker) else {
        return Ok(());
    };
    let restored: Restored = serde_json::from_str(&text).context("restored.json is damaged")?;
    crate::audit::new_chain(local)?;
    local.audit(
        "backup.restore",
        &restored.chain.display().to_string(),
        &format!("restored up to backup {} made at {}", restored.upto, restored.created),
        pass,
        crate::now(),
    )?;
    fs::remove_file(&marker).with_context(|| format!("cannot remove {}", marker.display()))
}

/// `POST /api/backup` and the `outpost backup` commands that need the
/// store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BackupRequest {
    /// Makes a backup now.
    Create {
        /// The backup directory.
        to: PathBuf,
        /// "full" or "incremental"; none: incremental if a chain exists.
        #[serde(default)]
        kind: Option<String>,
        /// Chains to keep (older ones are removed); none: all.
        #[serde(default)]
        keep: Option<usize>,
    },
    /// Shows the schedule, sets it, or turns it off.
    Schedule {
        /// The new schedule.
        #[serde(default)]
        set: Option<Schedule>,
        /// Turn scheduled backups off.
        #[serde(default)]
        off: bool,
    },
}

/// Reads a backup kind name.
pub fn parse_kind(kind: Option<&str>) -> Result<Option<Kind>> {
    match kind {
        None => Ok(None),
        Some("full") => Ok(Some(Kind::Full)),
        Some("incremental") => Ok(Some(Kind::Incremental)),
        Some(other) => bail!("{other:?} is not a backup kind: give full or incremental"),
    }
}

/// Answers a request with the store open here (no node running), or for
/// the node under its lock (all but `create`, which the node runs
/// outside its lock).
pub fn handle_offline(local: &mut crate::Local, pass: &crate::Passphrase, req: BackupRequest) -> Result<Value> {
    match req {
        BackupRequest::Create { to, kind, keep } => {
            let want = parse_kind(kind.as_deref())?;
            let now = crate::now().0;
            let key = key_or_create(&local.home)?;
            let made = create(
                local.home.dir(),
                &local.store,
                &to,
                &key,
                want,
                keep,
                now,
                &mut |_, _| {},
            )?;
            local.audit(
                "backup.create",
                &made.path.display().to_string(),
                &audit_detail(&made),
                pass,
                outpost_identity::Timestamp(now),
            )?;
            Ok(serde_json::to_value(made)?)
        }
        BackupRequest::Schedule { set, off } => {
            if off {
                local.store.set_settings(&[(SCHEDULE_SETTING, b"null")])?;
                local.audit(
                    "backup.schedule",
                    "off",
                    "scheduled backups turned off",
                    pass,
                    crate::now(),
                )?;
            } else if let Some(s) = set {
                s.plan()?;
                local
                    .store
                    .set_settings(&[(SCHEDULE_SETTING, &serde_json::to_vec(&s)?)])?;
                local.audit(
                    "backup.schedule",
                    &s.dir.display().to_string(),
                    &format!(
                        "daily at {} UTC, full on {}, keep {} chains",
                        s.daily_at, s.full_on, s.keep
                    ),
                    pass,
                    crate::now(),
                )?;
            }
            let status = status_of(&local.store)?;
            Ok(json!({
                "schedule": schedule_of(&local.store)?,
                "last": status.last,
                "last_full": status.last_full,
                "failed": status.failed,
                "error": status.error,
                "failing": status.failing(),
            }))
        }
    }
}
