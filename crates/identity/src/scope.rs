//! Scopes: the unit of read and write permission and of encryption keys.
//!
//! A scope (a department's space, a project, a channel, or a single shared
//! document) is defined by a signed [`ScopeDef`] op in the authorisation
//! DAG, so every node — relays included — can check who may write to it.
//! Its id is the id of that op. Readers hold the scope's epoch secret,
//! delivered by [`Rekey`] and [`AddWraps`] ops; writers are readers whose
//! changes are accepted. View-only = reader but not writer.
//!
//! Who reads and writes can change: a [`Reshare`] starts a new epoch with
//! new readers and writers (name and nonce stay). Every epoch has one
//! policy, fixed when it is made; see [`crate::state::AuthState::epoch_policy`].

use crate::keys::PublicKey;
use crate::op::{DeptPath, OpId, Role, RoleCert};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who a permission names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Principal {
    /// Every member of the org (not guests or relays).
    Everyone,
    /// Members whose department is this one or below it.
    Dept(DeptPath),
    /// One member, by signing key.
    Member(PublicKey),
    /// Everyone holding this role.
    Role(Role),
}

impl Principal {
    /// Does this principal include the holder of `cert`?
    pub fn covers(&self, cert: &RoleCert) -> bool {
        match self {
            Principal::Everyone => matches!(cert.role, Role::Admin | Role::DeptHead | Role::Member),
            Principal::Dept(d) => cert.role != Role::Relay && cert.role != Role::Guest && cert.dept.is_within(d),
            Principal::Member(k) => cert.subject == *k && cert.role != Role::Relay,
            Principal::Role(r) => cert.role == *r && cert.role != Role::Relay,
        }
    }

    /// Parses `everyone`, `dept:HQ/East`, `role:dept-head` or
    /// `member:<64 hex digits>`.
    pub fn parse(text: &str) -> Option<Principal> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("everyone") {
            return Some(Principal::Everyone);
        }
        let (kind, value) = text.split_once(':')?;
        match kind {
            "dept" => DeptPath::parse(value).ok().map(Principal::Dept),
            "role" => Role::parse(value).map(Principal::Role),
            "member" => {
                let bytes: [u8; 32] = hex::decode(value).ok()?.try_into().ok()?;
                Some(Principal::Member(PublicKey(bytes)))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Everyone => f.write_str("everyone"),
            Principal::Dept(d) => write!(f, "dept:{d}"),
            Principal::Member(k) => write!(f, "member:{k}"),
            Principal::Role(r) => write!(f, "role:{r}"),
        }
    }
}

/// Defines a scope: its name and who may read and write in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDef {
    /// A name for people ("HQ/East", "Project Apollo").
    pub name: String,
    /// Who may read (holds the key). Writers read too.
    pub readers: Vec<Principal>,
    /// Who may write.
    pub writers: Vec<Principal>,
    /// Random, so that two scopes with the same policy have different ids.
    pub nonce: u64,
}

impl ScopeDef {
    /// May the holder of `cert` write here? Guests and relays never write.
    pub fn allows_write(&self, cert: &RoleCert) -> bool {
        !matches!(cert.role, Role::Guest | Role::Relay) && self.writers.iter().any(|p| p.covers(cert))
    }

    /// May the holder of `cert` read here? Guests read scopes named in
    /// their certificate's resources (by scope id in hex).
    pub fn allows_read(&self, id: &OpId, cert: &RoleCert) -> bool {
        if cert.role == Role::Guest {
            return cert.resources.iter().any(|r| r.eq_ignore_ascii_case(&id.to_hex()));
        }
        self.allows_write(cert) || self.readers.iter().any(|p| p.covers(cert))
    }
}

/// An epoch secret wrapped to one member's exchange key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrap {
    /// The recipient member (signing key; their exchange key is in their certificate).
    pub to: PublicKey,
    /// The ephemeral X25519 public key of the wrap.
    pub ephemeral: [u8; 32],
    /// The encrypted secret (32 bytes + 16-byte tag).
    pub ct: Vec<u8>,
}

/// A previous epoch's secret, encrypted under the new epoch's secret so
/// that later readers can read history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrevSecret {
    /// The previous epoch (its rekey op id).
    pub epoch: OpId,
    /// The encrypted secret.
    pub ct: Vec<u8>,
}

/// Starts a new epoch of a scope: a fresh secret wrapped to every reader.
/// The epoch's id is the id of this op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rekey {
    /// The scope.
    pub scope: OpId,
    /// Random salt for key derivation.
    pub salt: [u8; 16],
    /// The new secret for each reader.
    pub wraps: Vec<Wrap>,
    /// Earlier secrets, encrypted under the new one.
    pub prev: Vec<PrevSecret>,
}

/// Starts a new epoch of a scope, like a [`Rekey`], and replaces who may
/// read and write it from this epoch on. The scope's name and nonce stay.
/// The epoch's id is the id of this op. Only the scope's owner (the author
/// of its [`ScopeDef`] op) or an admin may reshare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reshare {
    /// The new epoch: its secret is wrapped to every reader of the new
    /// policy, and `prev` chains earlier secrets so they read the history.
    pub rekey: Rekey,
    /// Who may read from this epoch on. Writers read too.
    pub readers: Vec<Principal>,
    /// Who may write from this epoch on.
    pub writers: Vec<Principal>,
}

/// Gives an existing epoch's secret to readers it missed (members added
/// after, or concurrently with, the rekey).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddWraps {
    /// The epoch (rekey op id).
    pub epoch: OpId,
    /// The secret for each new reader.
    pub wraps: Vec<Wrap>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ExchangeKey;
    use crate::time::Timestamp;

    fn cert(role: Role, dept: &str, key: u8) -> RoleCert {
        RoleCert {
            serial: 1,
            subject: PublicKey([key; 32]),
            exchange: ExchangeKey([0; 32]),
            name: "x".into(),
            email: String::new(),
            dept: DeptPath::parse(dept).unwrap(),
            position: String::new(),
            level: 0,
            role,
            resources: vec![],
            not_before: Timestamp(0),
            not_after: Timestamp(1),
            invite: None,
        }
    }

    #[test]
    fn view_only_readers_and_writers() {
        let scope = ScopeDef {
            name: "Apollo".into(),
            readers: vec![Principal::Dept(DeptPath::parse("HQ/RnD").unwrap())],
            writers: vec![
                Principal::Dept(DeptPath::parse("HQ/Marketing").unwrap()),
                Principal::Member(PublicKey([9; 32])),
            ],
            nonce: 1,
        };
        let id = OpId([1; 32]);
        let marketing = cert(Role::Member, "HQ/Marketing/Web", 1);
        let rnd = cert(Role::Member, "HQ/RnD", 2);
        let finance = cert(Role::Member, "HQ/Finance", 3);
        let named = cert(Role::Member, "HQ/Finance", 9);
        assert!(scope.allows_write(&marketing) && scope.allows_read(&id, &marketing));
        assert!(!scope.allows_write(&rnd) && scope.allows_read(&id, &rnd));
        assert!(!scope.allows_write(&finance) && !scope.allows_read(&id, &finance));
        assert!(scope.allows_write(&named));
        let mut guest = cert(Role::Guest, "HQ/Marketing", 4);
        assert!(!scope.allows_read(&id, &guest) && !scope.allows_write(&guest));
        guest.resources.push(id.to_hex());
        assert!(scope.allows_read(&id, &guest) && !scope.allows_write(&guest));
        let relay = cert(Role::Relay, "HQ/Marketing", 5);
        assert!(!scope.allows_read(&id, &relay));
    }

    #[test]
    fn principals_parse_and_print() {
        for text in [
            "everyone",
            "dept:HQ/East",
            "role:dept-head",
            &format!("member:{}", "ab".repeat(32)),
        ] {
            assert_eq!(Principal::parse(text).unwrap().to_string(), text);
        }
        assert!(Principal::parse("team:x").is_none());
    }
}
