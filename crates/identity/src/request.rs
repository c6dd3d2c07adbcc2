//! Objects people pass to each other: certificate requests, one-time
//! invites, and bundles of ops.
//!
//! Onboarding flows:
//! - **Request**: a member runs `outpost cert request`, mails the text to an
//!   admin, who issues a certificate and mails back a bundle.
//! - **Invite**: an admin imports the staff list; each person gets an
//!   [`Invite`] with their directory entry. Redeeming it on the member's
//!   device makes a [`Request`] that carries the invite, so the admin's node
//!   can sign it without asking anything.

use crate::keys::{ExchangeKey, MemberKeys, OrgId, PublicKey, Signer25519};
use crate::op::{DeptPath, FieldError, OpError, Role, SignedOp, check_text};
use crate::signed::{self, DecodeError, Kind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A member's request for a certificate: their public keys and name,
/// signed with the signing key to prove they hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The member's signing key.
    pub subject: PublicKey,
    /// The member's exchange key.
    pub exchange: ExchangeKey,
    /// The name the member gives.
    pub name: String,
    /// When it was made.
    pub created: Timestamp,
    /// The invite being redeemed, if any.
    pub invite: Option<Invite>,
}

impl Request {
    /// Makes and signs a request; returns its encoded bytes.
    pub fn sign(
        keys: &MemberKeys,
        name: &str,
        created: Timestamp,
        invite: Option<Invite>,
    ) -> Result<Vec<u8>, FieldError> {
        check_text("name", name, true)?;
        let req = Request {
            subject: keys.public(),
            exchange: keys.exchange_public(),
            name: name.to_owned(),
            created,
            invite,
        };
        Ok(signed::encode_signed(Kind::Request, &req, &keys.signing))
    }

    /// Decodes and checks the signature (and the invite's, if any).
    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let req: Request = signed::decode_signed(Kind::Request, bytes, |r: &Request| r.subject)?;
        if let Some(invite) = &req.invite {
            invite.check_signature()?;
        }
        Ok(req)
    }
}

/// A one-time invite: a directory entry an admin (or department head)
/// prepared for one person, signed by them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Random id; each invite can be redeemed once.
    pub id: [u8; 16],
    /// The org.
    pub org: OrgId,
    /// The org root key, so the invitee can pin the org.
    pub root: PublicKey,
    /// Who signed the invite and will sign the certificate.
    pub issuer: PublicKey,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Department.
    pub dept: DeptPath,
    /// Position.
    pub position: String,
    /// Level.
    pub level: u16,
    /// Role.
    pub role: Role,
    /// How long the certificate will be valid, in seconds.
    pub valid_secs: u64,
    /// The invite itself expires at this time.
    pub expires: Timestamp,
    /// The issuer's signature over everything above.
    pub sig: Vec<u8>,
}

/// The unsigned fields of an invite, as signed.
#[derive(Serialize)]
struct InviteBody<'a> {
    id: &'a [u8; 16],
    org: &'a OrgId,
    root: &'a PublicKey,
    issuer: &'a PublicKey,
    name: &'a str,
    email: &'a str,
    dept: &'a DeptPath,
    position: &'a str,
    level: u16,
    role: Role,
    valid_secs: u64,
    expires: Timestamp,
}

impl Invite {
    fn body(&self) -> Vec<u8> {
        let body = InviteBody {
            id: &self.id,
            org: &self.org,
            root: &self.root,
            issuer: &self.issuer,
            name: &self.name,
            email: &self.email,
            dept: &self.dept,
            position: &self.position,
            level: self.level,
            role: self.role,
            valid_secs: self.valid_secs,
            expires: self.expires,
        };
        signed::encode_unsigned(Kind::Invite, &body)
    }

    /// Signs the invite with `issuer` (whose key must be `self.issuer`).
    pub fn sign(mut self, issuer: &Signer25519) -> Invite {
        assert_eq!(issuer.public(), self.issuer, "an invite is signed by its issuer");
        self.sig = issuer
            .sign(&signed::signing_message(Kind::Invite, &self.body()))
            .to_vec();
        self
    }

    /// Checks the issuer's signature and the fields.
    pub fn check_signature(&self) -> Result<(), DecodeError> {
        signed::verify(
            &self.issuer,
            &signed::signing_message(Kind::Invite, &self.body()),
            &self.sig,
        )
        .map_err(|signed::BadSignature| DecodeError::BadSignature("invite"))?;
        if OrgId::of_root(&self.root) != self.org {
            return Err(DecodeError::Malformed("invite"));
        }
        Ok(())
    }

    /// Encodes the invite (signature included) as bytes.
    pub fn encode(&self) -> Vec<u8> {
        signed::encode_unsigned(Kind::Invite, self)
    }

    /// Decodes and checks an invite.
    pub fn decode(bytes: &[u8]) -> Result<Invite, DecodeError> {
        let invite: Invite = signed::decode_unsigned(Kind::Invite, bytes)?;
        invite.check_signature()?;
        Ok(invite)
    }
}

/// Ops that travel together, with the org root they belong to: a new
/// certificate and its chain, a revocation, or a whole org export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// The org root key.
    pub root: PublicKey,
    /// The org's name, for people.
    pub org_name: String,
    /// The op the bundle is about (a certificate or revocation), if any.
    pub subject: Option<crate::op::OpId>,
    /// Encoded signed ops, dependencies first.
    pub ops: Vec<Vec<u8>>,
}

/// Most ops in one bundle.
pub const BUNDLE_OPS_MAX: usize = 100_000;

impl Bundle {
    /// Makes a bundle of `ops` for the org of `root`.
    pub fn new<'a>(
        root: PublicKey,
        org_name: &str,
        subject: Option<crate::op::OpId>,
        ops: impl IntoIterator<Item = &'a SignedOp>,
    ) -> Bundle {
        Bundle {
            root,
            org_name: org_name.to_owned(),
            subject,
            ops: ops.into_iter().map(|o| o.bytes.clone()).collect(),
        }
    }

    /// Encodes the bundle.
    pub fn encode(&self) -> Vec<u8> {
        signed::encode_unsigned(Kind::Bundle, self)
    }

    /// Decodes a bundle and every op in it (signatures checked).
    pub fn decode(bytes: &[u8]) -> Result<(Bundle, Vec<SignedOp>), OpError> {
        let bundle: Bundle = signed::decode_unsigned(Kind::Bundle, bytes)?;
        if bundle.ops.len() > BUNDLE_OPS_MAX {
            return Err(OpError::Decode(DecodeError::Malformed("bundle")));
        }
        let ops = bundle
            .ops
            .iter()
            .map(|b| SignedOp::decode(b))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((bundle, ops))
    }

    /// The org id of the bundle's root.
    pub fn org(&self) -> OrgId {
        OrgId::of_root(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::OrgRoot;

    fn invite(root: &OrgRoot, issuer: &MemberKeys) -> Invite {
        Invite {
            id: [7; 16],
            org: root.org(),
            root: root.0.public(),
            issuer: issuer.public(),
            name: "李雷".into(),
            email: "li@example.com".into(),
            dept: DeptPath::parse("HQ/East").unwrap(),
            position: "engineer".into(),
            level: 4,
            role: Role::Member,
            valid_secs: 86_400,
            expires: Timestamp(10),
            sig: vec![],
        }
        .sign(&issuer.signing)
    }

    #[test]
    fn request_with_invite_round_trips_and_detects_tampering() {
        let mut rng = rand::rng();
        let root = OrgRoot::generate(&mut rng);
        let admin = MemberKeys::generate(&mut rng);
        let member = MemberKeys::generate(&mut rng);
        let inv = invite(&root, &admin);
        assert_eq!(Invite::decode(&inv.encode()).unwrap(), inv);
        let bytes = Request::sign(&member, "Li Lei", Timestamp(5), Some(inv.clone())).unwrap();
        let req = Request::decode(&bytes).unwrap();
        assert_eq!(req.invite.as_ref(), Some(&inv));
        assert_eq!(req.subject, member.public());

        let mut forged = inv.clone();
        forged.role = Role::Admin;
        assert_eq!(forged.check_signature(), Err(DecodeError::BadSignature("invite")));
        let bytes = Request::sign(&member, "Li Lei", Timestamp(5), Some(forged)).unwrap();
        assert_eq!(Request::decode(&bytes), Err(DecodeError::BadSignature("invite")));
    }
}
