//! Making new ops: pick the author's proof and parents, sign, and check the
//! result against the state before anyone else sees it.

use crate::keys::Signer25519;
use crate::op::{Body, DeviceCert, FieldError, Op, OpId, Revocation, RoleCert, SignedOp};
use crate::state::{AuthState, CertStatus, Rejection, Verdict};
use crate::time::Timestamp;

/// Why a new op could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The signer holds no live role certificate in this org.
    #[error(
        "this member holds no valid certificate in org {0}: install one (outpost cert install) before issuing or revoking"
    )]
    NoCertificate(crate::keys::OrgId),
    /// A field is out of bounds.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The op would be refused by every node.
    #[error("refused: {0}")]
    Rejected(#[from] Rejection),
    /// The revocation target is not known or not a certificate.
    #[error("no certificate {0} is known here")]
    UnknownTarget(OpId),
    /// The target is already revoked.
    #[error("certificate {0} is already {1}")]
    AlreadyRevoked(OpId, CertStatus),
}

impl AuthState {
    fn proof_for(&self, author: &Signer25519, now: Timestamp) -> Result<Option<OpId>, IssueError> {
        if author.public() == self.root() {
            return Ok(None);
        }
        self.role_of(&author.public(), now)
            .map(|(id, _)| Some(id))
            .ok_or(IssueError::NoCertificate(self.org()))
    }

    fn sign_checked(&self, author: &Signer25519, body: Body, now: Timestamp) -> Result<SignedOp, IssueError> {
        let op = Op {
            org: self.org(),
            author: author.public(),
            proof: self.proof_for(author, now)?,
            parents: self.heads(),
            body,
        };
        op.check_fields()?;
        let signed = op.sign(author);
        let mut trial = self.clone();
        trial.insert(signed.clone()).expect("the op was made for this org");
        match trial.verdict(&signed.id) {
            Some(Verdict::Rejected(why)) => Err(IssueError::Rejected(why.clone())),
            _ => Ok(signed),
        }
    }

    /// Signs a role certificate by `author`, checked against the rules.
    pub fn sign_grant(&self, author: &Signer25519, cert: RoleCert, now: Timestamp) -> Result<SignedOp, IssueError> {
        self.sign_checked(author, Body::Grant(cert), now)
    }

    /// Signs a device certificate for one of `author`'s devices.
    pub fn sign_device(&self, author: &Signer25519, cert: DeviceCert, now: Timestamp) -> Result<SignedOp, IssueError> {
        self.sign_checked(author, Body::Device(cert), now)
    }

    /// Signs any other op body (scopes, rekeys, wraps) by `author`.
    pub fn sign_body(&self, author: &Signer25519, body: Body, now: Timestamp) -> Result<SignedOp, IssueError> {
        self.sign_checked(author, body, now)
    }

    /// Signs a revocation of `target` by `author`. `seen` lists, for each
    /// document the author holds, its heads: changes by the revoked member
    /// outside them will be refused.
    pub fn sign_revocation(
        &self,
        author: &Signer25519,
        target: OpId,
        reason: &str,
        seen: Vec<([u8; 16], Vec<[u8; 32]>)>,
        now: Timestamp,
    ) -> Result<SignedOp, IssueError> {
        match self.status(&target, now) {
            CertStatus::Unknown | CertStatus::NotACertificate => {
                return Err(IssueError::UnknownTarget(target));
            }
            s @ CertStatus::Revoked { .. } if self.revocation_of(&target).is_some() => {
                return Err(IssueError::AlreadyRevoked(target, s));
            }
            _ => {}
        }
        let body = Body::Revoke(Revocation {
            target,
            reason: reason.to_owned(),
            at: now,
            seen,
        });
        self.sign_checked(author, body, now)
    }
}
