//! Table definitions. Names carry a version; a layout change means a new
//! name and a numbered migration.

use redb::TableDefinition;

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
