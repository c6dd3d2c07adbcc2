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

pub mod migrations;
pub mod tables;

use outpost_identity::OpId;
use redb::{Database, ReadableDatabase, ReadableTable};
use std::path::{Path, PathBuf};
use tables::{AUTH_OPS, INVITES, SETTINGS};

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process (usually a running node) holds the file.
    #[error(
        "the store {0} is in use by another Outpost process (a running `outpost up`?): stop it, or run the command while it is up so it goes through the node"
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
#[derive(Debug, thiserror::Error)]
#[error("storage error in {path}: {why} (is the disk full or failing?); nothing was acknowledged")]
pub struct StoreError {
    /// the file
    pub path: PathBuf,
    /// what went wrong
    pub why: String,
}

/// The node's store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Store, OpenError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::InUse(path.to_owned()),
            other => OpenError::Corrupt {
                path: path.to_owned(),
                why: other.to_string(),
            },
        })?;
        let store = Store {
            db,
            path: path.to_owned(),
        };
        migrations::run(&store)?;
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            why: e.to_string(),
        }
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
        Ok(table.get(key).map_err(|e| self.err(e))?.map(|v| v.value().to_vec()))
    }

    /// Sets settings, durably, in one transaction.
    pub fn set_settings(&self, pairs: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
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
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
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
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
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

    /// The certificate that redeemed an invite, if it was redeemed.
    pub fn invite_redeemed_by(&self, invite: &[u8; 16]) -> Result<Option<OpId>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
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
