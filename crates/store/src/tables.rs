//! Table definitions. Names carry a version; a layout change means a new
//! name and a numbered migration.

use redb::{MultimapTableDefinition, TableDefinition};

/// `settings-1`: setting name (UTF-8) → value bytes.
///
/// Keys in use: `schema-version` (u32 little-endian), `org-root` (32-byte
/// ed25519 public key of the org root this node belongs to), `org-name`
/// (UTF-8), `member-name` (UTF-8, the name given at `outpost init`).
pub const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings-1");

/// `auth-ops-1`: op id (blake3 of the op bytes, 32 bytes) → the signed op
/// in its canonical encoding (see `docs/protocol.md`). Grants, device
/// certificates and revocations: public within the org, so not encrypted.
pub const AUTH_OPS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("auth-ops-1");

/// `invites-1`: invite id (16 bytes) → op id (32 bytes) of the certificate
/// that redeemed it. An invite is redeemed at most once.
pub const INVITES: TableDefinition<&[u8; 16], [u8; 32]> = TableDefinition::new("invites-1");

/// `envelopes-1`: envelope id (blake3 of its bytes, 32 bytes) → the signed
/// envelope bytes (header in clear, payload encrypted; see
/// `docs/protocol.md`). Added by migration 2.
pub const ENVELOPES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("envelopes-1");

/// `doc-envelopes-1` (multimap): document key (scope op id, 32 bytes ‖ doc
/// id, 16 bytes) → ids of its envelopes. Added by migration 2.
pub const DOC_ENVELOPES: MultimapTableDefinition<&[u8; 48], &[u8; 32]> =
    MultimapTableDefinition::new("doc-envelopes-1");

/// `secrets-1`: key epoch id (rekey op id, 32 bytes) → the epoch secret
/// encrypted under the node's storage key (24-byte nonce ‖ ciphertext ‖
/// 16-byte tag). Added by migration 2.
pub const SECRETS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("secrets-1");

/// `snapshots-1`: document key (48 bytes, as above) → a cached
/// materialised document, encrypted under the storage key like secrets.
/// A cache: it can be dropped and rebuilt from the envelopes. Added by
/// migration 2.
pub const SNAPSHOTS: TableDefinition<&[u8; 48], &[u8]> = TableDefinition::new("snapshots-1");
