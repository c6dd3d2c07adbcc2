//! Numbered schema migrations, applied in order when a store is opened.
//!
//! Migration `n` upgrades a store from schema version `n - 1` to `n`;
//! version 0 is an empty file. Each runs in one write transaction, so a
//! crash mid-migration leaves the previous version intact.

use crate::tables::{AUTH_OPS, DOC_ENVELOPES, ENVELOPES, INVITES, SECRETS, SETTINGS, SNAPSHOTS};
use crate::{OpenError, Store, StoreError};
use redb::{ReadableDatabase, WriteTransaction};

/// The settings key holding the schema version.
pub const SCHEMA_KEY: &str = "schema-version";
/// The schema version this build writes.
pub const CURRENT: u32 = 2;

type Migration = fn(&WriteTransaction) -> Result<(), redb::Error>;

/// Migration `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: [Migration; 2] = [m1_initial, m2_envelopes];

/// Version 1: settings, authorisation ops, redeemed invites.
fn m1_initial(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(SETTINGS)?;
    tx.open_table(AUTH_OPS)?;
    tx.open_table(INVITES)?;
    Ok(())
}

/// Version 2: envelopes, their per-document index, epoch secrets and
/// document snapshots.
fn m2_envelopes(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(ENVELOPES)?;
    tx.open_multimap_table(DOC_ENVELOPES)?;
    tx.open_table(SECRETS)?;
    tx.open_table(SNAPSHOTS)?;
    Ok(())
}

fn version(store: &Store) -> Result<u32, StoreError> {
    let tx = store.db()?.begin_read().map_err(|e| store.err(e))?;
    let table = match tx.open_table(SETTINGS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(store.err(e)),
    };
    let v = table.get(SCHEMA_KEY).map_err(|e| store.err(e))?;
    Ok(match v {
        Some(bytes) => {
            let b: [u8; 4] = bytes
                .value()
                .try_into()
                .map_err(|_| store.err_text("schema version is not 4 bytes"))?;
            u32::from_le_bytes(b)
        }
        None => 0,
    })
}

/// Brings `store` to [`CURRENT`].
pub fn run(store: &Store) -> Result<(), OpenError> {
    let found = version(store)?;
    if found > CURRENT {
        return Err(OpenError::TooNew {
            path: store.path().to_owned(),
            found,
            supported: CURRENT,
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let to = i as u32 + 1;
        let tx = store.db()?.begin_write().map_err(|e| store.err(e))?;
        migration(&tx).map_err(|e| store.err(e))?;
        tx.open_table(SETTINGS)
            .map_err(|e| store.err(e))?
            .insert(SCHEMA_KEY, &to.to_le_bytes()[..])
            .map_err(|e| store.err(e))?;
        tx.commit().map_err(|e| store.err(e))?;
    }
    Ok(())
}
