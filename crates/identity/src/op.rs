//! Authorisation ops: role certificates, device certificates, revocations.
//!
//! An [`Op`] is signed by its `author`. `proof` names the role certificate
//! that authorises the author (absent only when the author is the org root).
//! `parents` are the control heads the author knew (see [`crate::state`]);
//! together with `proof` and the op's target (revoked certificate, rekeyed
//! scope, wrapped epoch) they are the op's causal dependencies.

use crate::keys::{ExchangeKey, OrgId, PublicKey, Signer25519};
use crate::signed::{self, DecodeError, Kind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name, position, email or resource, in bytes.
pub const TEXT_BYTES_MAX: usize = 256;
/// Deepest department path.
pub const DEPT_DEPTH_MAX: usize = 16;
/// Most parents an op may name.
pub const PARENTS_MAX: usize = 64;
/// Most guest resources one certificate may name.
pub const RESOURCES_MAX: usize = 256;
/// Most wrapped secrets in one rekey.
pub const WRAPS_MAX: usize = 10_000;

/// The id of an op: blake3 of its encoded bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId(pub [u8; 32]);

impl OpId {
    /// The id of the encoded op `bytes`.
    pub fn of(bytes: &[u8]) -> OpId {
        OpId(*blake3::hash(bytes).as_bytes())
    }

    /// Hex of the full id.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({self})")
    }
}

/// A department path such as `HQ/East/Sales/Team-A`. The empty path is the
/// whole org.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct DeptPath(Vec<String>);

/// A department path or text field could not be accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// A department path was malformed.
    #[error(
        "department path {0:?} is not valid: use names separated by '/', such as HQ/East/Sales (at most 16 levels, no empty names)"
    )]
    Dept(String),
    /// A text field was empty, too long, or held control characters.
    #[error("{field} {value:?} is not valid: {why}")]
    Text {
        /// which field
        field: &'static str,
        /// the value given
        value: String,
        /// what is wrong
        why: &'static str,
    },
}

impl DeptPath {
    /// The whole org.
    pub fn root() -> DeptPath {
        DeptPath(Vec::new())
    }

    /// Parses `HQ/East/Sales`; surrounding spaces and slashes are ignored.
    pub fn parse(text: &str) -> Result<DeptPath, FieldError> {
        let trimmed = text.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Ok(DeptPath::root());
        }
        let parts: Vec<String> = trimmed.split('/').map(|p| p.trim().to_owned()).collect();
        let ok = parts.len() <= DEPT_DEPTH_MAX
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 64 && !p.chars().any(char::is_control));
        if ok {
            Ok(DeptPath(parts))
        } else {
            Err(FieldError::Dept(text.to_owned()))
        }
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// True if `self` is `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &DeptPath) -> bool {
        self.0.len() >= ancestor.0.len() && self.0[..ancestor.0.len()] == ancestor.0[..]
    }

    fn is_valid(&self) -> bool {
        DeptPath::parse(&self.to_string()).as_ref() == Ok(self)
    }
}

impl fmt::Display for DeptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

impl fmt::Debug for DeptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeptPath({self})")
    }
}

/// Checks a free-text field: non-empty if `required`, bounded, no control
/// characters.
pub fn check_text(field: &'static str, value: &str, required: bool) -> Result<(), FieldError> {
    let err = |why| {
        Err(FieldError::Text {
            field,
            value: value.to_owned(),
            why,
        })
    };
    if required && value.trim().is_empty() {
        return err("it must not be empty");
    }
    if value.len() > TEXT_BYTES_MAX {
        return err("it is longer than 256 bytes");
    }
    if value.chars().any(char::is_control) {
        return err("it contains control characters");
    }
    Ok(())
}

/// What a certificate holder may do. Ranked from most to least senior.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Everything but the root's own powers.
    Admin,
    /// Manages members and files of their department subtree.
    DeptHead,
    /// Communicates and reads what is shared with them.
    Member,
    /// Reads only the resources named in their certificate.
    Guest,
    /// A device that stores and forwards ciphertext; never reads or writes.
    Relay,
}

impl Role {
    /// Seniority rank: 1 for admin (the root is 0) up to 5 for relay.
    pub fn rank(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::DeptHead => 2,
            Role::Member => 3,
            Role::Guest => 4,
            Role::Relay => 5,
        }
    }

    /// The name used on the command line and in listings.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DeptHead => "dept-head",
            Role::Member => "member",
            Role::Guest => "guest",
            Role::Relay => "relay",
        }
    }

    /// Parses a name as [`Role::name`] writes it.
    pub fn parse(text: &str) -> Option<Role> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "dept-head" | "depthead" | "head" => Role::DeptHead,
            "member" => Role::Member,
            "guest" => Role::Guest,
            "relay" => Role::Relay,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role certificate: who the subject is in the org and what they may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCert {
    /// Random serial chosen by the issuer, shown to people as 16 hex digits.
    pub serial: u64,
    /// The member's signing key.
    pub subject: PublicKey,
    /// The member's exchange key (for wrapped epoch secrets).
    pub exchange: ExchangeKey,
    /// Display name.
    pub name: String,
    /// Contact address (may be empty).
    pub email: String,
    /// Department: the subtree a department head manages, the department a
    /// member belongs to.
    pub dept: DeptPath,
    /// Position, for the directory.
    pub position: String,
    /// Level, for the directory.
    pub level: u16,
    /// The role.
    pub role: Role,
    /// For guests: the resources (documents, channels) they may read.
    pub resources: Vec<String>,
    /// Valid from.
    pub not_before: Timestamp,
    /// Valid until.
    pub not_after: Timestamp,
    /// The invite this certificate redeems, if any.
    pub invite: Option<[u8; 16]>,
}

/// A device certificate: binds a device key (a node's libp2p identity) to the
/// member who signs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCert {
    /// Random serial.
    pub serial: u64,
    /// The device's key.
    pub device: PublicKey,
    /// A name for people ("Wang's laptop").
    pub name: String,
    /// Valid from.
    pub not_before: Timestamp,
    /// Valid until.
    pub not_after: Timestamp,
}

/// A revocation of a role or device certificate. Permanent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The op (grant or device certificate) revoked.
    pub target: OpId,
    /// Why, for the audit trail.
    pub reason: String,
    /// When the revoker made it (their clock).
    pub at: Timestamp,
    /// For each document the revoker had synced before revoking, the heads
    /// they had seen: changes by the revoked member outside the causal past
    /// of these heads are refused (anti-backdating, see `outpost-seal`).
    pub seen: Vec<([u8; 16], Vec<[u8; 32]>)>,
}

/// What an op says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Body {
    /// Grants a role certificate.
    Grant(RoleCert),
    /// Certifies a device of the author.
    Device(DeviceCert),
    /// Revokes a certificate and everything whose chain runs through it.
    Revoke(Revocation),
    /// Defines a scope (its id is this op's id).
    Scope(crate::scope::ScopeDef),
    /// Starts a new key epoch of a scope (its id is this op's id).
    Rekey(crate::scope::Rekey),
    /// Wraps an existing epoch's secret to more readers.
    AddWraps(crate::scope::AddWraps),
    /// Starts a new key epoch of a scope with new readers and writers (its
    /// id is this op's id). Last, so that earlier variants keep their tags.
    Reshare(crate::scope::Reshare),
}

impl Body {
    /// Control ops (revocations, scopes, rekeys, reshares) form the chain
    /// that new ops and envelopes name as parents / `auth_heads`.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Body::Revoke(_) | Body::Scope(_) | Body::Rekey(_) | Body::Reshare(_)
        )
    }

    /// The new key epoch this op starts, if it is a rekey or a reshare.
    pub fn epoch(&self) -> Option<&crate::scope::Rekey> {
        match self {
            Body::Rekey(r) => Some(r),
            Body::Reshare(s) => Some(&s.rekey),
            _ => None,
        }
    }
}

/// An authorisation op before signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The org this op belongs to.
    pub org: OrgId,
    /// The signer.
    pub author: PublicKey,
    /// The role certificate that authorises the author; `None` only for the
    /// org root.
    pub proof: Option<OpId>,
    /// Control heads (revocations, scopes, rekeys) the author knew when signing.
    pub parents: Vec<OpId>,
    /// The statement.
    pub body: Body,
}

impl Op {
    /// Every op this one depends on: parents, proof, and the revoked
    /// certificate, rekeyed or reshared scope, or wrapped epoch.
    pub fn deps(&self) -> impl Iterator<Item = OpId> + '_ {
        let target = match &self.body {
            Body::Revoke(r) => Some(r.target),
            Body::Rekey(r) => Some(r.scope),
            Body::AddWraps(w) => Some(w.epoch),
            Body::Reshare(s) => Some(s.rekey.scope),
            _ => None,
        };
        self.parents.iter().copied().chain(self.proof).chain(target)
    }

    /// Checks the shape of the fields (lengths, paths, time windows). Rules
    /// that need other ops are in [`crate::rules`] and [`crate::state`].
    pub fn check_fields(&self) -> Result<(), FieldError> {
        let bad = |field, why| FieldError::Text {
            field,
            value: String::new(),
            why,
        };
        if self.parents.len() > PARENTS_MAX {
            return Err(bad("parents", "more than 64 parents"));
        }
        match &self.body {
            Body::Grant(c) => {
                check_text("name", &c.name, true)?;
                check_text("email", &c.email, false)?;
                check_text("position", &c.position, false)?;
                if !c.dept.is_valid() {
                    return Err(FieldError::Dept(c.dept.to_string()));
                }
                if c.resources.len() > RESOURCES_MAX {
                    return Err(bad("resources", "more than 256 resources"));
                }
                for r in &c.resources {
                    check_text("resource", r, true)?;
                }
                if c.not_after <= c.not_before {
                    return Err(bad("validity", "it ends before it starts"));
                }
            }
            Body::Device(d) => {
                check_text("device name", &d.name, false)?;
                if d.not_after <= d.not_before {
                    return Err(bad("validity", "it ends before it starts"));
                }
            }
            Body::Revoke(r) => {
                check_text("reason", &r.reason, true)?;
                if r.seen.len() > 100_000 || r.seen.iter().any(|(_, h)| h.len() > PARENTS_MAX) {
                    return Err(bad("seen heads", "too many documents or heads"));
                }
            }
            Body::Scope(s) => {
                check_text("scope name", &s.name, true)?;
                if s.readers.len() + s.writers.len() > RESOURCES_MAX {
                    return Err(bad("scope", "more than 256 readers and writers"));
                }
            }
            Body::Rekey(r) => check_rekey("rekey", r)?,
            Body::Reshare(s) => {
                check_rekey("reshare", &s.rekey)?;
                if s.readers.len() + s.writers.len() > RESOURCES_MAX {
                    return Err(bad("reshare", "more than 256 readers and writers"));
                }
            }
            Body::AddWraps(w) => {
                if w.wraps.is_empty() || w.wraps.len() > WRAPS_MAX || w.wraps.iter().any(|w| w.ct.len() != 48) {
                    return Err(bad("wraps", "empty, too many, or not 48 bytes each"));
                }
            }
        }
        Ok(())
    }

    /// Signs the op with the author's key.
    pub fn sign(self, author: &Signer25519) -> SignedOp {
        assert_eq!(author.public(), self.author, "an op is signed by its author");
        let bytes = signed::encode_signed(Kind::Op, &self, author);
        SignedOp {
            id: OpId::of(&bytes),
            bytes,
            op: self,
        }
    }
}

/// Bounds of a new epoch's wraps and previous secrets.
fn check_rekey(field: &'static str, r: &crate::scope::Rekey) -> Result<(), FieldError> {
    let bad = |why| FieldError::Text {
        field,
        value: String::new(),
        why,
    };
    if r.wraps.len() > WRAPS_MAX || r.prev.len() > WRAPS_MAX {
        return Err(bad("too many wraps"));
    }
    if r.wraps.iter().any(|w| w.ct.len() != 48) || r.prev.iter().any(|p| p.ct.len() != 48) {
        return Err(bad("a wrapped secret is not 48 bytes"));
    }
    Ok(())
}

/// An op with its signature checked, its encoded bytes and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedOp {
    /// The id: blake3 of `bytes`.
    pub id: OpId,
    /// The canonical signed encoding.
    pub bytes: Vec<u8>,
    /// The decoded op.
    pub op: Op,
}

/// Why bytes could not be accepted as an op.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpError {
    /// Not a well-formed, correctly signed op.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Signed, but a field is out of bounds.
    #[error("invalid op: {0}")]
    Field(#[from] FieldError),
}

impl SignedOp {
    /// Decodes `bytes`, checks the signature and the field bounds.
    pub fn decode(bytes: &[u8]) -> Result<SignedOp, OpError> {
        let op: Op = signed::decode_signed(Kind::Op, bytes, |op: &Op| op.author)?;
        op.check_fields()?;
        Ok(SignedOp {
            id: OpId::of(bytes),
            bytes: bytes.to_vec(),
            op,
        })
    }

    /// The role certificate, if this op grants one.
    pub fn grant(&self) -> Option<&RoleCert> {
        match &self.op.body {
            Body::Grant(c) => Some(c),
            _ => None,
        }
    }
}
