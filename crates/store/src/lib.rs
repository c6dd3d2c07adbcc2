//! Outpost's durable local store, on redb.
//!
//! One redb file per node (`outpost.redb` in the home directory). Tables
//! carry a version in their name; the schema version is kept in the
//! settings table and upgraded by numbered migrations ([`migrations`]) when
//! the store is opened. Every write here is one durable redb transaction:
//! when a method returns `Ok`, the data is on disk.
//!
//! The layout of each table is documented where it is defined
//! ([`tables`]) and in `docs/storage.md`.
#![deny(missing_docs)]

pub mod backup;
pub mod migrations;
pub mod tables;

use outpost_identity::OpId;
use redb::{Database, ReadableDatabase, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;
use tables::{AUTH_OPS, DOC_ENVELOPES, ENVELOPES, INVITES, SECRETS, SETTINGS, SNAPSHOTS};

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process (usually a running node) holds the file.
    #[error(
        "the store {0} is in use by another Outpost process (a running `outpost up`?); this command cannot go through a running node yet: stop the node (Ctrl-C) and run it again"
    )]
    InUse(PathBuf),
    /// The file is not a redb database, or is damaged.
    #[error(
        "the store {path} is damaged or is not an Outpost store ({why}): restore it from a backup, or move it away to start afresh"
    )]
    Corrupt {
        /// the file
        path: PathBuf,
        /// what redb said
        why: String,
    },
    /// Written by a newer Outpost.
    #[error("the store {path} has schema version {found}, newer than this build reads ({supported}): upgrade Outpost")]
    TooNew {
        /// the file
        path: PathBuf,
        /// the version found
        found: u32,
        /// the newest this build reads
        supported: u32,
    },
    /// A migration or first-time setup failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A read or write failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct StoreError {
    /// the file
    pub path: PathBuf,
    /// what went wrong
    pub why: String,
    /// True if the disk holding the store is full (or too nearly full to
    /// write safely): the write was refused or failed for want of space.
    pub disk_full: bool,
}

impl StoreError {
    fn message(&self) -> String {
        if self.disk_full {
            format!(
                "the disk holding {} is full ({}): free some space on it (or give it more), then try again; nothing was stored",
                self.path.display(),
                self.why
            )
        } else {
            format!(
                "storage error in {}: {} (is the disk full or failing?); nothing was acknowledged",
                self.path.display(),
                self.why
            )
        }
    }
}

/// Fewer free bytes than this on the store's file system refuse a write
/// before it starts ([`StoreError::disk_full`]). redb latches an I/O
/// error that hits a commit and refuses everything after it until the file
/// is reopened, reads included; refusing early keeps reads working while
/// the disk is full.
pub const WRITE_FREE_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// How often, at most, the store tries to reopen its file after an I/O
/// error latched in redb.
/// The memory redb keeps of the file's pages (its default is 1 GiB, which
/// a large node would fill with pages it read once at start). The system's
/// page cache still holds the file; this is redb's own copy.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Opens (or creates) the redb file with the store's settings.
fn open_db(path: &Path) -> Result<Database, redb::DatabaseError> {
    redb::Builder::new().set_cache_size(CACHE_BYTES).create(path)
}

const REOPEN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Free bytes available to this process on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// An epoch id and its secret as stored (encrypted by the node).
pub type SealedSecret = ([u8; 32], Vec<u8>);

/// The node's store.
#[derive(Debug)]
pub struct Store {
    /// The open database; `None` after an I/O error closed it and until
    /// it is reopened (see [`Store::db`]).
    db: RwLock<Option<Database>>,
    path: PathBuf,
    /// Set when redb latched an I/O error: the file must be reopened.
    failed: AtomicBool,
    /// When the store last tried to reopen the file.
    reopened_at: Mutex<Option<Instant>>,
    /// Writes are refused below this many free bytes
    /// ([`WRITE_FREE_MIN_BYTES`] unless set).
    write_free_min: AtomicU64,
}

/// The open database, borrowed for the start of one transaction.
struct DbGuard<'a>(RwLockReadGuard<'a, Option<Database>>);

impl std::ops::Deref for DbGuard<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        self.0
            .as_ref()
            .expect("Store::db hands out a guard only over an open database")
    }
}

/// An envelope id the document index names, with its stored bytes if any.
pub type RawRow = ([u8; 32], Option<Vec<u8>>);

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Store, OpenError> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(OpenError::Corrupt {
                path: path.to_owned(),
                why: "the file is empty".into(),
            });
        }
        let corrupt = |why: String| OpenError::Corrupt {
            path: path.to_owned(),
            why,
        };
        // redb panics on some kinds of damage inside a file; report those as
        // damage too rather than crash.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<Store, OpenError> {
            let db = open_db(path).map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => OpenError::InUse(path.to_owned()),
                other => corrupt(other.to_string()),
            })?;
            let store = Store {
                db: RwLock::new(Some(db)),
                path: path.to_owned(),
                failed: AtomicBool::new(false),
                reopened_at: Mutex::new(None),
                write_free_min: AtomicU64::new(WRITE_FREE_MIN_BYTES),
            };
            migrations::run(&store)?;
            // Read every table once, so damage shows here and not later
            // (the envelopes without copying them: a large store's are
            // read again, and kept, by whoever needs them).
            store.auth_ops()?;
            store.read_every_envelope()?;
            store.secrets()?;
            Ok(store)
        }));
        std::panic::set_hook(hook);
        opened.unwrap_or_else(|_| Err(corrupt("its pages are damaged".into())))
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A [`StoreError`] for what redb said; notes an I/O error that redb
    /// latched, so that the next operation reopens the file.
    pub(crate) fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        let e = e.into();
        let disk_full = match &e {
            redb::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        };
        if matches!(
            e,
            redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
        ) {
            self.failed.store(true, Ordering::SeqCst);
        }
        StoreError {
            path: self.path.clone(),
            why: e.to_string(),
            // After a latched error, say what most likely caused it while
            // the disk is still nearly full.
            disk_full: disk_full || (matches!(e, redb::Error::PreviousIo) && self.space_is_short()),
        }
    }

    /// A [`StoreError`] with a message of our own.
    pub(crate) fn err_text(&self, why: &str) -> StoreError {
        StoreError {
            path: self.path.clone(),
            why: why.to_owned(),
            disk_full: false,
        }
    }

    fn space_is_short(&self) -> bool {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        free_bytes(dir).is_ok_and(|free| free < self.write_free_min.load(Ordering::Relaxed).max(1))
    }

    /// Sets how many free bytes a write needs (default
    /// [`WRITE_FREE_MIN_BYTES`]); 0 lets writes run until the disk itself
    /// refuses them, as when another program fills it between the check
    /// and the commit.
    pub fn set_write_free_min(&self, bytes: u64) {
        self.write_free_min.store(bytes, Ordering::Relaxed);
    }

    /// Refuses a write while the disk is (nearly) full, before redb
    /// touches the file.
    fn check_space(&self) -> Result<(), StoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let min = self.write_free_min.load(Ordering::Relaxed);
        match free_bytes(dir) {
            Ok(free) if free < min => Err(StoreError {
                path: self.path.clone(),
                why: format!("{free} bytes free, fewer than the {min} a write needs to be safe"),
                disk_full: true,
            }),
            _ => Ok(()),
        }
    }

    /// True if the last operation left redb with a latched I/O error that
    /// has not been cleared by reopening the file yet.
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// The database, reopened first if an I/O error closed it (at most
    /// once per [`REOPEN_INTERVAL`]; redb repairs the file on open).
    fn db(&self) -> Result<DbGuard<'_>, StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            self.reopen();
        }
        let guard = self.db.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            return Err(StoreError {
                path: self.path.clone(),
                why: "the store was closed after an I/O error and could not be reopened yet".into(),
                disk_full: self.space_is_short(),
            });
        }
        Ok(DbGuard(guard))
    }

    fn reopen(&self) {
        {
            let mut at = self
                .reopened_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if at.is_some_and(|t| t.elapsed() < REOPEN_INTERVAL) {
                return;
            }
            *at = Some(Instant::now());
        }
        // Never wait here: a caller may hold a read guard further up.
        let Ok(mut db) = self.db.try_write() else { return };
        if let Some(old) = db.take() {
            // A live write transaction defers the close; reopening then
            // fails below and is tried again later.
            let _ = old.close();
        }
        match open_db(&self.path) {
            Ok(new) => {
                *db = Some(new);
                self.failed.store(false, Ordering::SeqCst);
            }
            Err(_) => {
                // Still failing (the disk may still be full): stay closed.
            }
        }
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
        Ok(table.get(key).map_err(|e| self.err(e))?.map(|v| v.value().to_vec()))
    }

    /// Sets settings, durably, in one transaction.
    pub fn set_settings(&self, pairs: &[(&str, &[u8])]) -> Result<(), StoreError> {
        self.check_space()?;
        let tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
            for (k, v) in pairs {
                table.insert(*k, *v).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every stored authorisation op (encoded), in id order.
    pub fn auth_ops(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(AUTH_OPS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.err(e))? {
            let (_, v) = row.map_err(|e| self.err(e))?;
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// Stores authorisation ops and, optionally, marks an invite redeemed by
    /// one of them and sets settings — all in one durable transaction.
    /// Returns how many ops were new. Fails without writing anything if the
    /// invite was already redeemed by another certificate.
    pub fn put_auth_ops<'a>(
        &self,
        ops: impl IntoIterator<Item = (OpId, &'a [u8])>,
        redeem: Option<([u8; 16], OpId)>,
        settings: &[(&str, &[u8])],
    ) -> Result<Result<usize, OpId>, StoreError> {
        self.check_space()?;
        let tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        let mut added = 0;
        {
            let mut table = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
            for (k, v) in settings {
                table.insert(*k, *v).map_err(|e| self.err(e))?;
            }
        }
        if let Some((invite, op)) = redeem {
            let conflict = {
                let mut invites = tx.open_table(INVITES).map_err(|e| self.err(e))?;
                let previous = invites.get(&invite).map_err(|e| self.err(e))?.map(|v| OpId(v.value()));
                match previous.filter(|p| *p != op) {
                    Some(prev) => Some(prev),
                    None => {
                        invites.insert(&invite, &op.0).map_err(|e| self.err(e))?;
                        None
                    }
                }
            };
            if let Some(prev) = conflict {
                tx.abort().map_err(|e| self.err(e))?;
                return Ok(Err(prev));
            }
        }
        {
            let mut table = tx.open_table(AUTH_OPS).map_err(|e| self.err(e))?;
            for (id, bytes) in ops {
                if table.insert(&id.0, bytes).map_err(|e| self.err(e))?.is_none() {
                    added += 1;
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Ok(added))
    }

    /// Stores envelopes in one durable transaction (one fsync for the whole
    /// batch). Each item is (document key, envelope id, envelope bytes).
    /// Returns the ids that were new.
    pub fn put_envelopes<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a [u8; 48], &'a [u8; 32], &'a [u8])>,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.put_envelopes_with(items, true)
    }

    /// [`Store::put_envelopes`], durable or not. A write that is not durable
    /// is visible at once but reaches the disk only with the next durable
    /// commit ([`Store::sync`] or any durable write): a writer that must
    /// acknowledge it calls [`Store::sync`] first, and many writers share
    /// one sync.
    pub fn put_envelopes_with<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a [u8; 48], &'a [u8; 32], &'a [u8])>,
        durable: bool,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let items: Vec<_> = items.into_iter().collect();
        if items.is_empty() {
            // Nothing new: only make earlier writes durable, which a full
            // disk must not prevent (see `sync`).
            return if durable {
                self.sync().map(|()| Vec::new())
            } else {
                Ok(Vec::new())
            };
        }
        self.check_space()?;
        let mut tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        if !durable {
            tx.set_durability(redb::Durability::None).map_err(|e| self.err(e))?;
        }
        let mut added = Vec::new();
        {
            let mut envelopes = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
            let mut index = tx.open_multimap_table(DOC_ENVELOPES).map_err(|e| self.err(e))?;
            for (doc, id, bytes) in items {
                if envelopes.insert(id, bytes).map_err(|e| self.err(e))?.is_none() {
                    added.push(*id);
                    index.insert(doc, id).map_err(|e| self.err(e))?;
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(added)
    }

    /// Makes every earlier write durable: one durable (empty) commit. Not
    /// refused on a nearly full disk: it adds no data, and writes already
    /// made (and refused nothing) must become durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every stored envelope, by id.
    pub fn envelopes(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.err(e))? {
            out.push(row.map_err(|e| self.err(e))?.1.value().to_vec());
        }
        Ok(out)
    }

    /// Every stored envelope, by id, handed to `each` `chunk` at a time
    /// (from one read transaction): a caller that decodes them need not
    /// hold the whole store's bytes at once.
    pub fn envelope_chunks<E: From<StoreError>>(
        &self,
        chunk: usize,
        mut each: impl FnMut(Vec<Vec<u8>>) -> Result<(), E>,
    ) -> Result<(), E> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(chunk.max(1));
        for row in table.iter().map_err(|e| self.err(e))? {
            out.push(row.map_err(|e| self.err(e))?.1.value().to_vec());
            if out.len() >= chunk.max(1) {
                each(std::mem::replace(&mut out, Vec::with_capacity(chunk.max(1))))?;
            }
        }
        if !out.is_empty() {
            each(out)?;
        }
        Ok(())
    }

    /// Reads every stored envelope's pages without keeping anything: redb
    /// finds damage as it reads.
    fn read_every_envelope(&self) -> Result<(), StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        for row in table.iter().map_err(|e| self.err(e))? {
            std::hint::black_box(row.map_err(|e| self.err(e))?.1.value().len());
        }
        Ok(())
    }

    /// True if the envelope is stored.
    pub fn has_envelope(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        Ok(table.get(id).map_err(|e| self.err(e))?.is_some())
    }

    /// The number of stored envelopes.
    pub fn envelope_count(&self) -> Result<u64, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        table.len().map_err(|e| self.err(e))
    }

    /// The envelopes of one document.
    pub fn doc_envelopes(&self, doc: &[u8; 48]) -> Result<Vec<Vec<u8>>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let index = tx.open_multimap_table(DOC_ENVELOPES).map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for id in index.get(doc).map_err(|e| self.err(e))? {
            let id = id.map_err(|e| self.err(e))?;
            if let Some(v) = table.get(id.value()).map_err(|e| self.err(e))? {
                out.push(v.value().to_vec());
            }
        }
        Ok(out)
    }

    /// Every envelope id the index lists for one document, with its stored
    /// bytes (`None`: the index names an envelope that is not stored). Raw:
    /// nothing is decoded or checked, so an audit can see damage.
    pub fn doc_envelope_rows(&self, doc: &[u8; 48]) -> Result<Vec<RawRow>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let index = tx.open_multimap_table(DOC_ENVELOPES).map_err(|e| self.err(e))?;
        let table = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for id in index.get(doc).map_err(|e| self.err(e))? {
            let id = *id.map_err(|e| self.err(e))?.value();
            let bytes = table.get(&id).map_err(|e| self.err(e))?.map(|v| v.value().to_vec());
            out.push((id, bytes));
        }
        Ok(out)
    }

    /// Stores an encrypted epoch secret.
    pub fn put_secret(&self, epoch: &[u8; 32], sealed: &[u8]) -> Result<(), StoreError> {
        self.put(SECRETS, epoch, sealed)
    }

    /// Every stored (encrypted) epoch secret.
    pub fn secrets(&self) -> Result<Vec<SealedSecret>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(SECRETS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            out.push((*k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Stores an encrypted document snapshot (a cache).
    pub fn put_snapshot(&self, doc: &[u8; 48], sealed: &[u8]) -> Result<(), StoreError> {
        self.put(SNAPSHOTS, doc, sealed)
    }

    /// A stored (encrypted) document snapshot.
    pub fn snapshot(&self, doc: &[u8; 48]) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
        Ok(table.get(doc).map_err(|e| self.err(e))?.map(|v| v.value().to_vec()))
    }

    fn put<const N: usize>(
        &self,
        def: redb::TableDefinition<&[u8; N], &[u8]>,
        key: &[u8; N],
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.check_space()?;
        let tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        tx.open_table(def)
            .map_err(|e| self.err(e))?
            .insert(key, value)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Calls `f` with every row of every table, table by table in key
    /// order, all read from **one** read transaction: a consistent view
    /// even while writers go on (a backup of a running node). Multimap
    /// rows come as key = key ‖ value, value empty (see
    /// [`backup::Space`]).
    pub fn for_each_row<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(backup::Space, &[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        use backup::Space;
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        macro_rules! each {
            ($def:expr, $space:expr, |$k:ident, $v:ident| $key:expr, $val:expr) => {{
                let table = tx.open_table($def).map_err(|e| self.err(e))?;
                for row in table.iter().map_err(|e| self.err(e))? {
                    let (k, v) = row.map_err(|e| self.err(e))?;
                    let ($k, $v) = (k.value(), v.value());
                    f($space, $key, $val)?;
                }
            }};
        }
        each!(SETTINGS, Space::Settings, |k, v| k.as_bytes(), v);
        each!(AUTH_OPS, Space::AuthOps, |k, v| &k[..], v);
        each!(INVITES, Space::Invites, |k, v| &k[..], &v[..]);
        each!(ENVELOPES, Space::Envelopes, |k, v| &k[..], v);
        {
            let table = tx.open_multimap_table(DOC_ENVELOPES).map_err(|e| self.err(e))?;
            for row in table.iter().map_err(|e| self.err(e))? {
                let (k, values) = row.map_err(|e| self.err(e))?;
                for v in values {
                    let v = v.map_err(|e| self.err(e))?;
                    let mut key = k.value().to_vec();
                    key.extend_from_slice(v.value());
                    f(Space::DocEnvelopes, &key, &[])?;
                }
            }
        }
        each!(SECRETS, Space::Secrets, |k, v| &k[..], v);
        each!(SNAPSHOTS, Space::Snapshots, |k, v| &k[..], v);
        Ok(())
    }

    /// Applies restored rows (puts and removals) in one durable
    /// transaction. File records are not the store's and are skipped.
    /// Refuses a row whose key does not fit its table.
    pub fn apply_backup_records(&self, records: &[backup::Record]) -> Result<(), StoreError> {
        use backup::Space;
        self.check_space()?;
        let tx = self.db()?.begin_write().map_err(|e| self.err(e))?;
        {
            let mut settings = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
            let mut auth = tx.open_table(AUTH_OPS).map_err(|e| self.err(e))?;
            let mut invites = tx.open_table(INVITES).map_err(|e| self.err(e))?;
            let mut envelopes = tx.open_table(ENVELOPES).map_err(|e| self.err(e))?;
            let mut index = tx.open_multimap_table(DOC_ENVELOPES).map_err(|e| self.err(e))?;
            let mut secrets = tx.open_table(SECRETS).map_err(|e| self.err(e))?;
            let mut snapshots = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
            for r in records {
                let bad = || {
                    self.err_text(&format!(
                        "a restored {} row has a key of the wrong size",
                        r.space.name()
                    ))
                };
                let k32 = || <&[u8; 32]>::try_from(r.key.as_slice()).map_err(|_| bad());
                let k48 = || <&[u8; 48]>::try_from(r.key.as_slice()).map_err(|_| bad());
                let v = r.value.as_deref();
                match (r.space, v) {
                    (Space::Settings, _) => {
                        let k = std::str::from_utf8(&r.key).map_err(|_| bad())?;
                        match v {
                            Some(v) => settings.insert(k, v).map(drop),
                            None => settings.remove(k).map(drop),
                        }
                    }
                    (Space::AuthOps, Some(v)) => auth.insert(k32()?, v).map(drop),
                    (Space::AuthOps, None) => auth.remove(k32()?).map(drop),
                    (Space::Invites, Some(v)) => {
                        let v: [u8; 32] = v.try_into().map_err(|_| bad())?;
                        let k: &[u8; 16] = r.key.as_slice().try_into().map_err(|_| bad())?;
                        invites.insert(k, v).map(drop)
                    }
                    (Space::Invites, None) => {
                        let k: &[u8; 16] = r.key.as_slice().try_into().map_err(|_| bad())?;
                        invites.remove(k).map(drop)
                    }
                    (Space::Envelopes, Some(v)) => envelopes.insert(k32()?, v).map(drop),
                    (Space::Envelopes, None) => envelopes.remove(k32()?).map(drop),
                    (Space::DocEnvelopes, _) => {
                        if r.key.len() != 80 {
                            return Err(bad());
                        }
                        let doc: &[u8; 48] = r.key[..48].try_into().expect("80 bytes");
                        let id: &[u8; 32] = r.key[48..].try_into().expect("80 bytes");
                        match v {
                            Some(_) => index.insert(doc, id).map(drop),
                            None => index.remove(doc, id).map(drop),
                        }
                    }
                    (Space::Secrets, Some(v)) => secrets.insert(k32()?, v).map(drop),
                    (Space::Secrets, None) => secrets.remove(k32()?).map(drop),
                    (Space::Snapshots, Some(v)) => snapshots.insert(k48()?, v).map(drop),
                    (Space::Snapshots, None) => snapshots.remove(k48()?).map(drop),
                    _ => Ok(()),
                }
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The certificate that redeemed an invite, if it was redeemed.
    pub fn invite_redeemed_by(&self, invite: &[u8; 16]) -> Result<Option<OpId>, StoreError> {
        let tx = self.db()?.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(INVITES).map_err(|e| self.err(e))?;
        Ok(table.get(invite).map_err(|e| self.err(e))?.map(|v| OpId(v.value())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_settings_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outpost.redb");
        {
            let store = Store::open(&path).unwrap();
            store.set_settings(&[("org-name", b"Acme")]).unwrap();
            let id = OpId([1; 32]);
            assert_eq!(
                store
                    .put_auth_ops([(id, &b"op"[..])], Some(([9; 16], id)), &[])
                    .unwrap(),
                Ok(1)
            );
            assert_eq!(store.put_auth_ops([(id, &b"op"[..])], None, &[]).unwrap(), Ok(0));
            // The same invite cannot be redeemed by another certificate.
            let other = OpId([2; 32]);
            assert_eq!(
                store
                    .put_auth_ops([(other, &b"x"[..])], Some(([9; 16], other)), &[])
                    .unwrap(),
                Err(id)
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.setting("org-name").unwrap().as_deref(), Some(&b"Acme"[..]));
        assert_eq!(store.auth_ops().unwrap(), vec![b"op".to_vec()]);
        assert_eq!(store.invite_redeemed_by(&[9; 16]).unwrap(), Some(OpId([1; 32])));
        assert_eq!(
            store.setting(migrations::SCHEMA_KEY).unwrap(),
            Some(migrations::CURRENT.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn envelopes_are_indexed_by_document_and_batched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let (d1, d2) = ([1u8; 48], [2u8; 48]);
        let batch: Vec<([u8; 48], [u8; 32], Vec<u8>)> = (0..10u8)
            .map(|i| (if i % 2 == 0 { d1 } else { d2 }, [i; 32], vec![i; 100]))
            .collect();
        let new = store
            .put_envelopes(batch.iter().map(|(d, id, b)| (d, id, b.as_slice())))
            .unwrap();
        assert_eq!(new, batch.iter().map(|(_, id, _)| *id).collect::<Vec<_>>());
        assert_eq!(
            store
                .put_envelopes(batch.iter().map(|(d, id, b)| (d, id, b.as_slice())))
                .unwrap(),
            Vec::<[u8; 32]>::new()
        );
        assert_eq!(store.envelope_count().unwrap(), 10);
        let mut chunks = Vec::new();
        store
            .envelope_chunks(3, |c| {
                chunks.push(c);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
        assert_eq!(chunks.concat(), store.envelopes().unwrap());
        assert_eq!(store.doc_envelopes(&d1).unwrap().len(), 5);
        assert!(store.has_envelope(&[3; 32]).unwrap());
        store.put_secret(&[7; 32], b"sealed").unwrap();
        assert_eq!(store.secrets().unwrap(), vec![([7; 32], b"sealed".to_vec())]);
        store.put_snapshot(&d1, b"snap").unwrap();
        assert_eq!(store.snapshot(&d1).unwrap().as_deref(), Some(&b"snap"[..]));
    }

    #[test]
    fn a_version_1_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            // A store as version 1 left it.
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(SETTINGS)
                .unwrap()
                .insert(migrations::SCHEMA_KEY, &1u32.to_le_bytes()[..])
                .unwrap();
            tx.open_table(AUTH_OPS).unwrap().insert(&[5; 32], &b"op"[..]).unwrap();
            tx.open_table(INVITES).unwrap();
            tx.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.auth_ops().unwrap(), vec![b"op".to_vec()]);
        assert_eq!(store.envelope_count().unwrap(), 0);
        assert_eq!(
            store.setting(migrations::SCHEMA_KEY).unwrap(),
            Some(2u32.to_le_bytes().to_vec())
        );
    }

    #[test]
    fn a_newer_store_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(SETTINGS)
                .unwrap()
                .insert(migrations::SCHEMA_KEY, &99u32.to_le_bytes()[..])
                .unwrap();
            tx.commit().unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, OpenError::TooNew { found: 99, .. }), "{err}");
    }

    #[test]
    fn damage_anywhere_in_the_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let rows: Vec<([u8; 48], [u8; 32], Vec<u8>)> =
                (0..200u8).map(|i| ([i; 48], [i; 32], vec![i; 300])).collect();
            store
                .put_envelopes(rows.iter().map(|(d, id, b)| (d, id, b.as_slice())))
                .unwrap();
        }
        let good = std::fs::read(&path).unwrap();
        for offset in (0..good.len()).step_by(good.len() / 16 + 1) {
            let mut bad = good.clone();
            for b in bad.iter_mut().skip(offset).take(512) {
                *b ^= 0x5a;
            }
            std::fs::write(&path, &bad).unwrap();
            // Either it still opens (damage in free space) or it says so.
            if let Err(e) = Store::open(&path) {
                assert!(e.to_string().contains("s.redb"), "{e}");
            }
        }
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(Store::open(&path), Err(OpenError::Corrupt { .. })));
    }

    #[test]
    fn a_foreign_file_is_named_not_panicked_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outpost.redb");
        std::fs::write(
            &path,
            b"this is a text file, not a database, and it is long enough to look like something",
        )
        .unwrap();
        let err = Store::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OpenError::Corrupt { .. }), "{msg}");
        assert!(msg.contains("outpost.redb"), "{msg}");
    }

    #[test]
    fn a_second_open_reports_the_store_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outpost.redb");
        let _first = Store::open(&path).unwrap();
        assert!(matches!(Store::open(&path), Err(OpenError::InUse(_))));
    }
}
