//! Outpost identities, role certificates and the authorisation state.
//!
//! Everything in this crate is pure: no files, no network, no clock. Time and
//! randomness come in as arguments, so every rule can be tested
//! deterministically and every node reaches the same verdicts.
//!
//! # Model
//! - An **org** is named by its root key ([`keys::OrgRoot`]); its [`OrgId`]
//!   is derived from the root's public key.
//! - A **member** owns an ed25519 signing key and an X25519 exchange key
//!   ([`keys::MemberKeys`]), made on their own device.
//! - A **device** owns an ed25519 key that is also its libp2p identity
//!   ([`keys::DeviceKey`]).
//! - **Authorisation ops** ([`op::Op`]) are signed statements: a role
//!   certificate grant, a device certificate, a revocation, or — for
//!   encrypted content — a scope definition, a rekey, a reshare (a rekey
//!   that changes who reads and writes) or more key wraps ([`scope`]).
//!   Each names the certificate that authorises its author (`proof`) and
//!   its causal `parents`, so the ops form a DAG.
//! - The **authorisation state** ([`state::AuthState`]) is a pure function of
//!   the set of ops: ops are linearised in a deterministic topological order,
//!   delegation rules ([`rules`]) are checked at each op's place in that
//!   order, and revocations kill every certificate whose proof chain runs
//!   through the revoked one.
//! - Requests, invites and bundles ([`request`]) carry keys and ops between
//!   people; [`armor`] gives every object a copy-pasteable text form with a
//!   checksum so that a truncated paste is detected.
#![deny(missing_docs)]

pub mod armor;
pub mod issue;
pub mod keyfile;
pub mod keys;
pub mod op;
pub mod request;
pub mod rules;
pub mod scope;
pub mod signed;
pub mod state;
pub mod time;

pub use keys::{DeviceKey, ExchangeKey, MemberKeys, OrgId, OrgRoot, PublicKey};
pub use op::{Body, DeptPath, DeviceCert, Op, OpId, Revocation, Role, RoleCert, SignedOp};
pub use scope::{Principal, ScopeDef};
pub use state::{AuthState, CertStatus};
pub use time::Timestamp;
