//! Delegation rules: who may issue, certify and revoke what.
//!
//! | issuer | may issue |
//! |---|---|
//! | org root | admin certificates |
//! | admin | any role (admin, dept-head, member, guest, relay) anywhere |
//! | dept-head of `D` | member, guest and relay certificates inside `D` |
//! | admin, dept-head, member, guest | device certificates for their own key |
//! | relay | nothing |
//!
//! Revocation: the root, an admin, or the author of the revoked certificate
//! or of any certificate in its proof chain.

use crate::op::{DeptPath, Role, RoleCert};
use std::fmt;

/// Who signs: the org root, or the holder of a role certificate.
#[derive(Clone, Copy, Debug)]
pub enum Issuer<'a> {
    /// The org root key.
    Root,
    /// The holder of this certificate.
    Holder(&'a RoleCert),
}

impl fmt::Display for Issuer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Issuer::Root => f.write_str("the org root"),
            Issuer::Holder(c) if c.dept.segments().is_empty() => {
                write!(f, "{} ({})", c.name, c.role)
            }
            Issuer::Holder(c) => write!(f, "{} ({} of {})", c.name, c.role, c.dept),
        }
    }
}

/// A delegation rule was broken. Each message says who tried what.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum DelegationError {
    /// The root signs admin certificates only.
    #[error("the org root issues only admin certificates, not {0}: have an admin issue it")]
    RootIssuesOnlyAdmins(Role),
    /// The issuer's role cannot issue role certificates at all.
    #[error("a {0} cannot issue role certificates; ask an admin or department head")]
    NotAnIssuer(Role),
    /// A department head tried to issue a role above member.
    #[error("a department head cannot issue {0} certificates; ask an admin")]
    RoleTooHigh(Role),
    /// A department head tried to issue outside their subtree.
    #[error(
        "department {requested:?} is outside the issuer's department {scope:?}: a department head issues only inside their own subtree"
    )]
    OutOfScope {
        /// the head's subtree
        scope: String,
        /// the department asked for
        requested: String,
    },
    /// Relays have no devices.
    #[error("a relay device cannot certify devices")]
    RelayCannotCertify,
    /// The revoker has no authority over the target.
    #[error("{0} may not revoke this certificate: only an admin or an issuer in its chain may")]
    MayNotRevoke(String),
}

/// May `issuer` grant `new`?
pub fn may_grant(issuer: Issuer<'_>, new: &RoleCert) -> Result<(), DelegationError> {
    match issuer {
        Issuer::Root if new.role == Role::Admin => Ok(()),
        Issuer::Root => Err(DelegationError::RootIssuesOnlyAdmins(new.role)),
        Issuer::Holder(holder) => match holder.role {
            Role::Admin => Ok(()),
            Role::DeptHead => {
                if matches!(new.role, Role::Admin | Role::DeptHead) {
                    return Err(DelegationError::RoleTooHigh(new.role));
                }
                check_scope(&holder.dept, &new.dept)
            }
            other => Err(DelegationError::NotAnIssuer(other)),
        },
    }
}

fn check_scope(scope: &DeptPath, requested: &DeptPath) -> Result<(), DelegationError> {
    if requested.is_within(scope) {
        Ok(())
    } else {
        Err(DelegationError::OutOfScope {
            scope: scope.to_string(),
            requested: requested.to_string(),
        })
    }
}

/// May the holder of `holder` certify a device of their own?
pub fn may_certify_device(holder: &RoleCert) -> Result<(), DelegationError> {
    if holder.role == Role::Relay {
        Err(DelegationError::RelayCannotCertify)
    } else {
        Ok(())
    }
}

/// May `revoker` revoke a certificate? `in_chain` says whether the revoker
/// authored the target or a certificate in the target's proof chain.
pub fn may_revoke(revoker: Issuer<'_>, in_chain: bool) -> Result<(), DelegationError> {
    match revoker {
        Issuer::Root => Ok(()),
        Issuer::Holder(c) if c.role == Role::Admin || in_chain => Ok(()),
        other => Err(DelegationError::MayNotRevoke(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ExchangeKey, PublicKey};
    use crate::time::Timestamp;

    fn cert(role: Role, dept: &str) -> RoleCert {
        RoleCert {
            serial: 1,
            subject: PublicKey([1; 32]),
            exchange: ExchangeKey([2; 32]),
            name: "x".into(),
            email: String::new(),
            dept: DeptPath::parse(dept).unwrap(),
            position: String::new(),
            level: 0,
            role,
            resources: vec![],
            not_before: Timestamp(0),
            not_after: Timestamp(10),
            invite: None,
        }
    }

    #[test]
    fn root_issues_admins_only() {
        assert_eq!(may_grant(Issuer::Root, &cert(Role::Admin, "")), Ok(()));
        assert_eq!(
            may_grant(Issuer::Root, &cert(Role::Member, "HQ")),
            Err(DelegationError::RootIssuesOnlyAdmins(Role::Member))
        );
    }

    #[test]
    fn admin_issues_anything() {
        let admin = cert(Role::Admin, "");
        for role in [Role::Admin, Role::DeptHead, Role::Member, Role::Guest, Role::Relay] {
            assert_eq!(may_grant(Issuer::Holder(&admin), &cert(role, "HQ/Any")), Ok(()));
        }
    }

    #[test]
    fn dept_head_stays_in_subtree_and_below_its_rank() {
        let head = cert(Role::DeptHead, "HQ/East");
        let ok = |role, dept| may_grant(Issuer::Holder(&head), &cert(role, dept));
        assert_eq!(ok(Role::Member, "HQ/East"), Ok(()));
        assert_eq!(ok(Role::Guest, "HQ/East/Sales/Team-A"), Ok(()));
        assert_eq!(ok(Role::Relay, "HQ/East/Sales"), Ok(()));
        assert!(matches!(
            ok(Role::Member, "HQ/West"),
            Err(DelegationError::OutOfScope { .. })
        ));
        assert!(matches!(
            ok(Role::Member, "HQ"),
            Err(DelegationError::OutOfScope { .. })
        ));
        // A sibling whose name merely starts the same is outside.
        assert!(matches!(
            ok(Role::Member, "HQ/Eastern"),
            Err(DelegationError::OutOfScope { .. })
        ));
        assert_eq!(
            ok(Role::DeptHead, "HQ/East/Sales"),
            Err(DelegationError::RoleTooHigh(Role::DeptHead))
        );
        assert_eq!(
            ok(Role::Admin, "HQ/East"),
            Err(DelegationError::RoleTooHigh(Role::Admin))
        );
    }

    #[test]
    fn members_guests_relays_issue_no_roles() {
        for role in [Role::Member, Role::Guest, Role::Relay] {
            let c = cert(role, "HQ");
            assert_eq!(
                may_grant(Issuer::Holder(&c), &cert(Role::Member, "HQ")),
                Err(DelegationError::NotAnIssuer(role))
            );
        }
    }

    #[test]
    fn devices_and_revocations() {
        assert_eq!(may_certify_device(&cert(Role::Member, "HQ")), Ok(()));
        assert_eq!(
            may_certify_device(&cert(Role::Relay, "HQ")),
            Err(DelegationError::RelayCannotCertify)
        );
        assert_eq!(may_revoke(Issuer::Root, false), Ok(()));
        assert_eq!(may_revoke(Issuer::Holder(&cert(Role::Admin, "")), false), Ok(()));
        assert_eq!(may_revoke(Issuer::Holder(&cert(Role::DeptHead, "HQ")), true), Ok(()));
        assert!(may_revoke(Issuer::Holder(&cert(Role::DeptHead, "HQ")), false).is_err());
        assert!(may_revoke(Issuer::Holder(&cert(Role::Member, "HQ")), false).is_err());
    }

    #[test]
    fn dept_paths() {
        assert_eq!(DeptPath::parse(" /HQ/East/ ").unwrap().to_string(), "HQ/East");
        assert!(DeptPath::parse("HQ//East").is_err());
        assert!(DeptPath::parse(&"a/".repeat(17)).is_err());
        assert!(DeptPath::parse("HQ/East").unwrap().is_within(&DeptPath::root()));
    }
}
