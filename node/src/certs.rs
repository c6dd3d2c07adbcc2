//! The `cert` commands' work on the local view: issue, install, verify,
//! list and revoke certificates, and sign a certificate request.
//!
//! The CLI calls these directly when no node runs, and the node's API
//! (`/api/certs/...`) calls them when one does, so both paths give the same
//! answers and the same errors. Each returns what a person reads and what a
//! program reads; the caller prints one of them.

use crate::Local;
use crate::home::Passphrase;
use anyhow::{Context, Result, bail};
use outpost_identity::armor::{self, Label};
use outpost_identity::keys::peer_id_of;
use outpost_identity::request::{Bundle, Invite, Request};
use outpost_identity::state::{CertStatus, Verdict};
use outpost_identity::time::parse_duration;
use outpost_identity::{AuthState, Body, DeptPath, OpId, Role, RoleCert, SignedOp, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The input object is invalid: tampered, truncated, forged, expired,
/// revoked, of another org or out of the signer's scope. The CLI exits
/// with code 3; the API answers with code `invalid`.
#[derive(Debug)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// An [`Invalid`] error with `message`.
pub fn invalid(message: impl std::fmt::Display) -> anyhow::Error {
    Invalid(message.to_string()).into()
}

/// What a command reports: `text` for people, `json` for programs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The human-readable report, as the CLI prints it.
    pub text: String,
    /// The same as JSON, as `--json` prints it.
    pub json: Value,
}

/// An armored object a command made (a request, certificate or revocation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Made {
    /// The armored object.
    pub armored: String,
    /// One line saying what it is.
    pub summary: String,
    /// What it is, as JSON.
    pub json: Value,
    /// Notes for the person (the CLI prints them on standard error).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The display name given at init, or `default`.
pub fn member_name(local: &Local, default: &str) -> Result<String> {
    Ok(local
        .store
        .setting("member-name")?
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_else(|| default.to_owned()))
}

/// Signs a certificate request for this member, named `name` or else by
/// [`member_name`] (falling back to `default_name`).
pub fn request(
    local: &Local,
    pass: &Passphrase,
    name: Option<String>,
    default_name: &str,
    now: Timestamp,
) -> Result<Made> {
    let name = match name {
        Some(n) => n,
        None => member_name(local, default_name)?,
    };
    let keys = local.member_keys(pass)?;
    let bytes = Request::sign(&keys, &name, now, None)?;
    Ok(Made {
        armored: armor::encode(Label::Request, &bytes),
        summary: format!("certificate request for {name} (member key {})", keys.public().short()),
        json: json!({"name": name, "member": keys.public().to_string()}),
        notes: Vec::new(),
    })
}

/// `cert issue` arguments, as the CLI takes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueArgs {
    /// The armored request.
    pub request: String,
    /// Where the request came from (a file name), to name it in errors.
    pub source: String,
    /// Role name; none when the request redeems an invite.
    pub role: Option<String>,
    /// Department path ("" for the whole org).
    pub dept: String,
    /// Position.
    pub position: String,
    /// Level.
    pub level: u16,
    /// Email.
    pub email: String,
    /// Name instead of the one in the request.
    pub name: Option<String>,
    /// Resource ids.
    pub resources: Vec<String>,
    /// Validity, like "365d".
    pub valid: String,
    /// Sign with the org root key instead of the member key.
    pub as_root: bool,
}

fn decode_armored(text: &str, source: &str, labels: &[Label]) -> Result<(Label, Vec<u8>)> {
    armor::decode_as(text, labels).map_err(|e| invalid(format!("{source}: {e}")))
}

/// The key a certificate or revocation is signed with: the org root's
/// (`--as-root`) or this member's.
enum SigningKey {
    Root(outpost_identity::OrgRoot),
    Member(outpost_identity::MemberKeys),
}

impl SigningKey {
    fn open(local: &Local, pass: &Passphrase, as_root: bool) -> Result<SigningKey> {
        Ok(if as_root {
            SigningKey::Root(local.home.org_root(pass)?)
        } else {
            SigningKey::Member(local.member_keys(pass)?)
        })
    }

    fn signer(&self) -> &outpost_identity::keys::Signer25519 {
        match self {
            SigningKey::Root(root) => &root.0,
            SigningKey::Member(member) => &member.signing,
        }
    }
}

/// Issues a certificate for a request and stores it; returns the armored
/// certificate bundle.
pub fn issue(local: &mut Local, pass: &Passphrase, args: &IssueArgs, now: Timestamp) -> Result<Made> {
    let state = local.require_org()?.clone();
    let (_, bytes) = decode_armored(&args.request, &args.source, &[Label::Request])?;
    let req = Request::decode(&bytes).map_err(|e| invalid(format!("{}: {e}", args.source)))?;
    let key = SigningKey::open(local, pass, args.as_root)?;
    let signer = key.signer();
    let (cert, redeem) = match &req.invite {
        Some(inv) => {
            if args.role.is_some() {
                bail!("this request redeems an invite, which already sets role and department: drop --role");
            }
            if inv.org != state.org() {
                return Err(invalid(format!(
                    "the invite in this request is for org {}, not for {}",
                    inv.org,
                    state.org()
                )));
            }
            if inv.issuer != signer.public() {
                return Err(invalid(format!(
                    "the invite in this request was made by {}, not by you: send the request to them",
                    inv.issuer.short()
                )));
            }
            if now > inv.expires {
                return Err(invalid(format!(
                    "the invite expired at {}: make a new one",
                    inv.expires
                )));
            }
            if let Some(prev) = local.store.invite_redeemed_by(&inv.id)? {
                return Err(invalid(format!(
                    "this invite was already redeemed by certificate {prev}; each invite can be used once"
                )));
            }
            (cert_from_invite(&req, inv, now), Some(inv.id))
        }
        None => {
            let role_text = args
                .role
                .as_deref()
                .context("--role is required: admin, dept-head, member, guest or relay")?;
            let role = Role::parse(role_text)
                .with_context(|| format!("unknown role {role_text:?}: use admin, dept-head, member, guest or relay"))?;
            let valid = parse_duration(&args.valid)?;
            let cert = RoleCert {
                serial: rand::random(),
                subject: req.subject,
                exchange: req.exchange,
                name: args.name.clone().unwrap_or_else(|| req.name.clone()),
                email: args.email.clone(),
                dept: DeptPath::parse(&args.dept)?,
                position: args.position.clone(),
                level: args.level,
                role,
                resources: args.resources.clone(),
                not_before: now,
                not_after: now.plus(valid),
                invite: None,
            };
            (cert, None)
        }
    };
    let mut cert = cert;
    let mut notes = Vec::new();
    if let Some((_, mine)) = state.role_of(&signer.public(), now) {
        // Nothing can outlive its issuer's certificate.
        if cert.not_after > mine.not_after {
            notes.push(format!(
                "note: validity shortened to {}, the end of your own certificate",
                mine.not_after
            ));
            cert.not_after = mine.not_after;
        }
    }
    let summary = format!(
        "issued {} certificate for {} in {} (serial {:016x}, valid until {})",
        cert.role,
        cert.name,
        display_dept(&cert.dept),
        cert.serial,
        cert.not_after
    );
    let js = cert_json(&cert);
    let target = format!("{} ({:016x})", cert.name, cert.serial);
    let op = state.sign_grant(signer, cert, now).map_err(invalid)?;
    let id = op.id;
    local.add_ops(vec![op], redeem.map(|inv| (inv, id)))?;
    let bundle = local.bundle_of(id)?;
    local.audit("cert.issue", &target, &summary, pass, now)?;
    Ok(Made {
        armored: armor::encode(Label::Certificate, &bundle.encode()),
        summary,
        json: js,
        notes,
    })
}

fn cert_from_invite(req: &Request, inv: &Invite, now: Timestamp) -> RoleCert {
    RoleCert {
        serial: rand::random(),
        subject: req.subject,
        exchange: req.exchange,
        name: inv.name.clone(),
        email: inv.email.clone(),
        dept: inv.dept.clone(),
        position: inv.position.clone(),
        level: inv.level,
        role: inv.role,
        resources: Vec::new(),
        not_before: now,
        not_after: now.plus(inv.valid_secs),
        invite: Some(inv.id),
    }
}

/// A department as people read it: the root is "the whole org".
pub fn display_dept(dept: &DeptPath) -> String {
    if dept.segments().is_empty() {
        "the whole org".into()
    } else {
        dept.to_string()
    }
}

/// A role certificate as JSON.
pub fn cert_json(c: &RoleCert) -> Value {
    json!({
        "serial": format!("{:016x}", c.serial),
        "name": c.name, "email": c.email, "dept": c.dept.to_string(), "position": c.position,
        "level": c.level, "role": c.role.name(), "resources": c.resources,
        "subject": c.subject.to_string(),
        "not_before": c.not_before.0, "not_after": c.not_after.0,
    })
}

/// A certificate's standing as JSON: `valid`, the `status` for people and
/// its `state` for programs (`valid`, `revoked`, `expired`, `not_yet_valid`,
/// `pending`, `invalid` or `unknown`).
fn status_json(s: &CertStatus) -> Value {
    let state = match s {
        CertStatus::Live => "valid",
        CertStatus::Revoked { .. } => "revoked",
        CertStatus::Expired { .. } => "expired",
        CertStatus::NotYetValid { .. } => "not_yet_valid",
        CertStatus::Pending { .. } => "pending",
        CertStatus::Invalid { .. } => "invalid",
        _ => "unknown",
    };
    json!({"valid": s.is_live(), "status": s.to_string(), "state": state})
}

/// Decodes an armored bundle (certificate, revocation or export).
fn decode_bundle(text: &str, source: &str) -> Result<(Bundle, Vec<SignedOp>)> {
    let (_, bytes) = decode_armored(text, source, &[Label::Certificate, Label::Revocation, Label::Bundle])?;
    Bundle::decode(&bytes).map_err(|e| invalid(format!("{source}: {e}")))
}

/// The state this node knows plus the bundle's ops, checking the org.
fn state_with(local: Option<&Local>, bundle: &Bundle, ops: &[SignedOp]) -> Result<AuthState> {
    let mut state = match local.and_then(|l| l.state()) {
        Some(s) if s.root() != bundle.root => {
            return Err(invalid(format!(
                "this belongs to org {} ({}), not to this node's org {}",
                bundle.org(),
                bundle.org_name,
                s.org()
            )));
        }
        Some(s) => s.clone(),
        None => AuthState::new(bundle.root),
    };
    state.insert_all(ops.iter().cloned()).map_err(invalid)?;
    Ok(state)
}

/// Installs an armored bundle (`text`, read from `source`): a certificate,
/// a revocation or an export. Certifies this device if it can now.
pub fn install(local: &mut Local, pass: &Passphrase, text: &str, source: &str, now: Timestamp) -> Result<Report> {
    let (bundle, ops) = decode_bundle(text, source)?;
    let trial = state_with(Some(local), &bundle, &ops)?;
    let subject = bundle
        .subject
        .and_then(|id| trial.op(&id).map(|op| (id, op.op.body.clone())));
    // A certificate that is not valid is refused before anything is stored.
    if let Some((id, Body::Grant(_))) = &subject {
        let status = trial.status(id, now);
        if !status.is_live() {
            return Err(invalid(format!("certificate {id} is {status}")));
        }
    }
    // Certifying this device below needs the member key: open it before
    // anything is stored, so that a wrong or missing passphrase changes nothing.
    if trial.role_of(&local.member, now).is_some() && trial.device_principal(&local.device, now).is_none() {
        local.member_keys(pass)?;
    }
    if local.state().is_none() {
        // Joining an org: only on the strength of a valid certificate for this member.
        match &subject {
            Some((_, Body::Grant(c))) if c.subject == local.member => {}
            Some((_, Body::Grant(c))) => {
                return Err(invalid(format!(
                    "this certificate is for {} (key {}), not for this member ({}): install your own certificate first",
                    c.name,
                    c.subject.short(),
                    local.member.short()
                )));
            }
            _ => {
                return Err(invalid(
                    "this node belongs to no org yet: install your own certificate first",
                ));
            }
        }
        local.pin_org(bundle.root, &bundle.org_name)?;
    }
    let added = local.add_ops(ops, None)?;
    let device = local.ensure_device_cert(pass, now)?;
    let state = local.require_org()?;
    let mut js = json!({"org": state.org().to_string(), "added": added, "device_cert": device.map(|d| d.to_hex())});
    let mut text = String::new();
    match &subject {
        Some((id, Body::Grant(c))) => {
            let status = state.status(id, now);
            text = format!(
                "installed {} certificate for {} in {} ({}); {added} new op(s)\n",
                c.role,
                c.name,
                display_dept(&c.dept),
                status
            );
            js["cert"] = cert_json(c);
            js["status"] = status_json(&status);
        }
        Some((id, Body::Revoke(r))) => {
            let status = state.status(&r.target, now);
            text = format!(
                "recorded revocation {id} of certificate {}: it is now {status}\n",
                r.target
            );
            js["revoked"] = json!(r.target.to_hex());
        }
        _ => text.push_str(&format!("imported {added} new op(s) into org {}\n", state.org())),
    }
    if device.is_some() {
        text.push_str(&format!("certified this device ({})\n", peer_id_of(&local.device)));
    }
    Ok(Report { text, json: js })
}

/// The outcome of checking a bundle: `valid`, or else `message` says why
/// not (and `report.json` says it for programs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    /// Whether the certificate (or revocation) holds.
    pub valid: bool,
    /// What to print.
    pub report: Report,
    /// Why it does not hold, when not `valid`.
    pub message: Option<String>,
}

/// Checks an armored bundle (`text`, read from `source`) at time `at`
/// against what this node knows (`local`, if it is initialised).
pub fn verify_bundle(local: Option<&Local>, text: &str, source: &str, at: Timestamp) -> Result<Verified> {
    let (bundle, ops) = decode_bundle(text, source)?;
    let state = state_with(local, &bundle, &ops)?;
    let subject = bundle
        .subject
        .context("this bundle names no certificate to verify; use `outpost cert show`")?;
    let status = state.status(&subject, at);
    let name = match state.op(&subject).map(|o| &o.op.body) {
        Some(Body::Grant(c)) => format!("{} ({} of {})", c.name, c.role, display_dept(&c.dept)),
        Some(Body::Device(d)) => format!("device {}", peer_id_of(&d.device)),
        Some(Body::Revoke(r)) => {
            let verdict = state.verdict(&subject);
            if verdict == Some(&Verdict::Accepted) {
                return Ok(Verified {
                    valid: true,
                    report: Report {
                        text: format!("valid revocation of {}\n", r.target),
                        json: json!({"valid": true, "kind": "revocation"}),
                    },
                    message: None,
                });
            }
            return Err(invalid(format!("revocation {subject} is not valid: {verdict:?}")));
        }
        _ => String::new(),
    };
    Ok(if status.is_live() {
        Verified {
            valid: true,
            report: Report {
                text: format!("valid: {name}, certificate {subject}\n"),
                json: json!({"valid": true, "id": subject.to_hex()}),
            },
            message: None,
        }
    } else {
        Verified {
            valid: false,
            report: Report {
                text: String::new(),
                json: json!({"valid": false, "id": subject.to_hex(), "status": status.to_string()}),
            },
            message: Some(format!("{name}: certificate {subject} is {status}")),
        }
    })
}

/// `cert list` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListFilter {
    /// Only certificates within this department path.
    pub dept: Option<String>,
    /// Only this role.
    pub role: Option<String>,
    /// Only this level.
    pub level: Option<u16>,
    /// Also expired and revoked ones.
    pub all: bool,
    /// Device certificates instead of role certificates (the other filters
    /// then apply to the certificate of the member who signed each).
    #[serde(default)]
    pub devices: bool,
}

/// `filter`'s department, role and level, parsed.
struct Wanted {
    dept: Option<DeptPath>,
    role: Option<Role>,
    level: Option<u16>,
}

impl Wanted {
    fn of(filter: &ListFilter) -> Result<Wanted> {
        let role = match &filter.role {
            Some(r) => Some(
                Role::parse(r)
                    .with_context(|| format!("unknown role {r:?}: use admin, dept-head, member, guest or relay"))?,
            ),
            None => None,
        };
        Ok(Wanted {
            dept: filter.dept.as_deref().map(DeptPath::parse).transpose()?,
            role,
            level: filter.level,
        })
    }

    fn keeps(&self, c: &RoleCert) -> bool {
        self.dept.as_ref().is_none_or(|d| c.dept.is_within(d))
            && self.role.is_none_or(|r| r == c.role)
            && self.level.is_none_or(|l| l == c.level)
    }

    fn any(&self) -> bool {
        self.dept.is_some() || self.role.is_some() || self.level.is_some()
    }
}

/// The org's role certificates that pass `filter` (its device
/// certificates with `filter.devices`: see [`list_devices`]).
pub fn list(local: &Local, filter: &ListFilter, now: Timestamp) -> Result<Report> {
    if filter.devices {
        return list_devices(local, filter, now);
    }
    let state = local.require_org()?;
    let wanted = Wanted::of(filter)?;
    let mut rows = Vec::new();
    for op in state.ops() {
        let Body::Grant(c) = &op.op.body else {
            continue;
        };
        let status = state.status(&op.id, now);
        if (filter.all || status.is_live()) && wanted.keeps(c) {
            rows.push((op.id, op.op.author, c, status));
        }
    }
    rows.sort_by(|a, b| (a.2.dept.to_string(), &a.2.name).cmp(&(b.2.dept.to_string(), &b.2.name)));
    let mut text = format!(
        "{:<16}  {:<20}  {:<9}  {:<24}  {:<16}  {:>5}  {}\n",
        "SERIAL", "NAME", "ROLE", "DEPT", "POSITION", "LEVEL", "STATUS"
    );
    for (_, _, c, status) in &rows {
        let status = status_cell(status, c.not_after);
        text.push_str(&format!(
            "{:016x}  {:<20}  {:<9}  {:<24}  {:<16}  {:>5}  {}\n",
            c.serial,
            c.name,
            c.role.name(),
            display_dept(&c.dept),
            c.position,
            c.level,
            status
        ));
    }
    text.push_str(&format!("{} certificate(s)\n", rows.len()));
    let js: Vec<Value> = rows
        .iter()
        .map(|(id, issuer, c, s)| {
            let mut v = cert_json(c);
            v["id"] = json!(id.to_hex());
            v["issuer"] = json!(issuer.to_string());
            v["status"] = status_json(s);
            v
        })
        .collect();
    Ok(Report {
        text,
        json: Value::Array(js),
    })
}

/// A status as one short word or phrase for a table.
fn status_cell(status: &CertStatus, not_after: Timestamp) -> String {
    match status {
        CertStatus::Live => format!("valid until {}", not_after.to_utc_string()),
        CertStatus::Revoked { .. } => "revoked".into(),
        CertStatus::Expired { .. } => "expired".into(),
        other => other.to_string(),
    }
}

/// The org's device certificates: each device with the member who
/// certified it (named by their current certificate, if any), sorted by
/// member and device name. `filter`'s department, role and level apply to
/// that member's certificate; by default only valid devices are listed.
pub fn list_devices(local: &Local, filter: &ListFilter, now: Timestamp) -> Result<Report> {
    let state = local.require_org()?;
    let wanted = Wanted::of(filter)?;
    let mut rows = Vec::new();
    for op in state.ops() {
        let Body::Device(d) = &op.op.body else {
            continue;
        };
        let status = state.status(&op.id, now);
        let member = state.role_of(&op.op.author, now).map(|(_, c)| c);
        let keep = (filter.all || status.is_live()) && (!wanted.any() || member.is_some_and(|c| wanted.keeps(c)));
        if keep {
            rows.push((op.id, op.op.author, member, d, status));
        }
    }
    let member_name = |m: Option<&RoleCert>| m.map(|c| c.name.clone()).unwrap_or_default();
    rows.sort_by(|a, b| (member_name(a.2), &a.3.name).cmp(&(member_name(b.2), &b.3.name)));
    let mut text = format!(
        "{:<16}  {:<20}  {:<20}  {:<52}  {}\n",
        "SERIAL", "DEVICE", "MEMBER", "PEER ID", "STATUS"
    );
    for (_, author, member, d, status) in &rows {
        let this = if d.device == local.device { " (this device)" } else { "" };
        text.push_str(&format!(
            "{:016x}  {:<20}  {:<20}  {:<52}  {}{this}\n",
            d.serial,
            d.name,
            member.map_or_else(|| author.short(), |c| c.name.clone()),
            peer_id_of(&d.device),
            status_cell(status, d.not_after)
        ));
    }
    text.push_str(&format!("{} device(s)\n", rows.len()));
    let js: Vec<Value> = rows
        .iter()
        .map(|(id, author, member, d, s)| {
            json!({
                "id": id.to_hex(),
                "serial": format!("{:016x}", d.serial),
                "name": d.name,
                "device": peer_id_of(&d.device),
                "this_device": d.device == local.device,
                "member": author.to_string(),
                "member_name": member.map(|c| c.name.clone()),
                "dept": member.map(|c| c.dept.to_string()),
                "not_before": d.not_before.0,
                "not_after": d.not_after.0,
                "status": status_json(s),
            })
        })
        .collect();
    Ok(Report {
        text,
        json: Value::Array(js),
    })
}

/// `cert revoke` arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeArgs {
    /// Serial or op id (a unique prefix of either).
    pub serial: String,
    /// Why.
    pub reason: String,
    /// Sign with the org root key instead of the member key.
    pub as_root: bool,
}

/// Revokes a certificate and stores the revocation (with new keys for the
/// scopes the revoked could read); returns the armored revocation bundle.
pub fn revoke(local: &mut Local, pass: &Passphrase, args: &RevokeArgs, now: Timestamp) -> Result<Made> {
    let serial = args.serial.as_str();
    let state = local.require_org()?;
    let matches: Vec<OpId> = state.find(serial);
    let target = match matches.as_slice() {
        [one] => *one,
        [] => bail!("no certificate with serial or id {serial:?} is known here; see `outpost cert list --all`"),
        many => bail!(
            "{serial:?} matches {} certificates ({}); give more digits",
            many.len(),
            many.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let key = SigningKey::open(local, pass, args.as_root)?;
    let signer = key.signer();
    let (id, rekeyed) = local.revoke(signer, target, &args.reason, pass, now).map_err(|e| {
        if e.downcast_ref::<outpost_identity::issue::IssueError>().is_some() {
            invalid(format!("{e:#}"))
        } else {
            e
        }
    })?;
    let state = local.require_org()?;
    let fallen: Vec<String> = state
        .ops()
        .filter(|o| matches!(o.op.body, Body::Grant(_) | Body::Device(_)))
        .filter(|o| state.chain(o.id).contains(&target) && o.id != target)
        .map(|o| o.id.to_hex())
        .collect();
    let rekeyed_note = if rekeyed.is_empty() {
        String::new()
    } else {
        format!("; new keys for {} scope(s) they could read", rekeyed.len())
    };
    let summary = format!(
        "revoked certificate {target}{}{rekeyed_note}",
        if fallen.is_empty() {
            String::new()
        } else {
            format!(" and {} certificate(s) issued under it", fallen.len())
        }
    );
    // The new keys travel with the revocation, so other writers move to them.
    let mut ops: Vec<&SignedOp> = state.closure(id);
    for epoch in &rekeyed {
        for op in state.closure(*epoch) {
            if !ops.iter().any(|o| o.id == op.id) {
                ops.push(op);
            }
        }
    }
    let bundle = Bundle::new(state.root(), local.org_name(), Some(id), ops);
    let subject = match state.op(&target).map(|o| &o.op.body) {
        Some(Body::Grant(c)) => format!("{} ({:016x})", c.name, c.serial),
        _ => target.to_hex(),
    };
    let made = Made {
        armored: armor::encode(Label::Revocation, &bundle.encode()),
        summary,
        json: json!({"revocation": id.to_hex(), "target": target.to_hex(), "cascade": fallen}),
        notes: Vec::new(),
    };
    let detail = format!("{}; reason: {}", made.summary, args.reason);
    local.audit("cert.revoke", &subject, &detail, pass, now)?;
    Ok(made)
}
