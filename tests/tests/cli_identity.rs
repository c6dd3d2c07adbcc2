//! The identity commands end to end: the real `outpost` binary, one home
//! per person, files passed between them as people would mail them.
//!
//! Every failing command is run through [`Node::fails`], which also checks
//! that the node's status and certificate list are the same afterwards.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use outpost_identity::keyfile;
use outpost_tests::{DAY, Node, Sandbox, exit};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

/// Acme as most tests need it: Alice created the org; she made Bob head of
/// HQ/East; Bob certified Carol, a member of HQ/East/Sales.
struct Acme {
    sb: Sandbox,
    admin: Node,
    head: Node,
    member: Node,
    /// Bob's certificate, as Alice mailed it.
    head_cert: String,
    /// Carol's certificate, as Bob mailed it.
    member_cert: String,
}

fn acme() -> Acme {
    let sb = Sandbox::new();
    let admin = sb.node("alice");
    admin.init("Alice");
    admin
        .ok(["org", "create", "--name", "Acme"])
        .stdout_has("Alice is its first admin");

    let head = sb.node("bob");
    head.init("Bob");
    let head_cert = admin.issue(
        &head.request(),
        &[
            "--role",
            "dept-head",
            "--dept",
            "HQ/East",
            "--position",
            "Head of East",
            "--level",
            "2",
        ],
        "bob.cert",
    );
    head.ok(["cert", "install", &head_cert])
        .stdout_has("installed dept-head certificate for Bob in HQ/East (valid)");

    let member = sb.node("carol");
    member.init("Carol");
    let member_cert = head.issue(
        &member.request(),
        &[
            "--role",
            "member",
            "--dept",
            "HQ/East/Sales",
            "--position",
            "Sales rep",
            "--level",
            "3",
        ],
        "carol.cert",
    );
    member.ok(["cert", "install", &member_cert]);
    Acme {
        sb,
        admin,
        head,
        member,
        head_cert,
        member_cert,
    }
}

/// The `serial` of the certificate named `name` in `node`'s list.
fn serial_of(node: &Node, name: &str) -> String {
    let rows = node.list(&["--all"]);
    let row = rows
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {rows:?}"));
    row["serial"].as_str().expect("serials are strings").to_owned()
}

/// The row of the certificate named `name` in `cert list --all --json`.
fn row_of(node: &Node, name: &str) -> Value {
    let rows = node.list(&["--all"]);
    rows.into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

#[test]
fn admin_head_and_member_chain_verifies_and_certifies_each_device() {
    let Acme {
        sb,
        admin,
        head,
        member,
        head_cert,
        member_cert,
    } = acme();

    let status = admin.status();
    assert_eq!(status["role"]["role"], "admin");
    assert_eq!(status["role"]["dept"], "");
    assert_eq!(status["device_certified"], true);
    assert_eq!(status["org"]["name"], "Acme");

    let status = head.status();
    assert_eq!(
        (status["role"]["role"].as_str(), status["role"]["dept"].as_str()),
        (Some("dept-head"), Some("HQ/East"))
    );
    assert_eq!(status["device_certified"], true);
    assert_eq!(status["org"]["id"], admin.status()["org"]["id"]);

    let status = member.status();
    assert_eq!(
        (status["role"]["role"].as_str(), status["role"]["dept"].as_str()),
        (Some("member"), Some("HQ/East/Sales"))
    );
    assert_eq!(status["device_certified"], true);

    // Each certificate checks out on every node of the org, and on a node
    // that belongs to no org at all (the bundle carries the whole chain).
    let stranger = sb.node("stranger");
    for node in [&admin, &head, &member, &stranger] {
        node.ok(["cert", "verify", &head_cert])
            .stdout_has("valid: Bob (dept-head of HQ/East)");
        node.ok(["cert", "verify", &member_cert])
            .stdout_has("valid: Carol (member of HQ/East/Sales)");
    }
    assert_eq!(member.json(["cert", "verify", &member_cert])["valid"], true);

    // A new member's install certifies their device in the same step.
    let dave = sb.node("dave");
    dave.init("Dave");
    let cert = head.issue(
        &dave.request(),
        &["--role", "guest", "--dept", "HQ/East", "--resource", "doc-1"],
        "dave.cert",
    );
    let installed = dave.json(["cert", "install", &cert]);
    assert_eq!(installed["status"]["valid"], true);
    assert!(
        installed["device_cert"].is_string(),
        "no device certificate in {installed}"
    );
    assert_eq!(dave.status()["device_certified"], true);

    // Carol's node learnt the chain above her: filter it.
    assert_eq!(member.names(&[]), ["Alice", "Bob", "Carol"]);
    assert_eq!(member.names(&["--dept", "HQ/East"]), ["Bob", "Carol"]);
    assert_eq!(member.names(&["--dept", "HQ/East/Sales"]), ["Carol"]);
    assert_eq!(member.names(&["--dept", "HQ"]), ["Bob", "Carol"]);
    assert!(member.names(&["--dept", "HQ/Eastern"]).is_empty());
    assert_eq!(member.names(&["--role", "dept-head"]), ["Bob"]);
    assert_eq!(member.names(&["--role", "admin"]), ["Alice"]);
    assert_eq!(member.names(&["--level", "3"]), ["Carol"]);
    assert_eq!(member.names(&["--level", "2"]), ["Bob"]);
    assert_eq!(
        member.names(&["--dept", "HQ/East", "--role", "member", "--level", "3"]),
        ["Carol"]
    );
    assert!(member.names(&["--dept", "HQ/East", "--level", "0"]).is_empty());

    let carol = row_of(&member, "Carol");
    assert_eq!(carol["position"], "Sales rep");
    assert_eq!(carol["status"]["valid"], true);
    assert_eq!(carol["subject"], member.status()["member"]);

    // The text listing says the same.
    member
        .ok(["cert", "list", "--dept", "HQ/East/Sales"])
        .stdout_has("Carol")
        .stdout_has("HQ/East/Sales")
        .stdout_has("1 certificate(s)");
    member.fails(["cert", "list", "--role", "boss"], exit::ERROR, "unknown role \"boss\"");
}

#[test]
fn revoking_a_dept_head_revokes_everything_they_issued() {
    let Acme {
        sb,
        admin,
        head,
        member,
        head_cert,
        member_cert,
    } = acme();
    // Alice learns of Carol's certificate (as sync would tell her).
    admin.ok(["cert", "install", &member_cert]);
    let carol_id = row_of(&admin, "Carol")["id"].clone();

    let serial = serial_of(&admin, "Bob");
    let revoked = admin.json([
        "cert",
        "revoke",
        &serial,
        "--reason",
        "left the company",
        "--out",
        "bob.rev",
    ]);
    assert_eq!(revoked["target"], row_of(&admin, "Bob")["id"]);
    assert_eq!(revoked["cascade"], Value::Array(vec![carol_id]));
    assert_eq!(row_of(&admin, "Bob")["status"]["valid"], false);
    assert_eq!(admin.names(&[]), ["Alice"]);
    admin.fails(["cert", "verify", &head_cert], exit::INVALID, "revoked");

    // Carol receives the revocation.
    member
        .ok(["cert", "install", "bob.rev"])
        .stdout_has("recorded revocation")
        .stdout_has("left the company");
    let run = member.fails(["cert", "verify", &member_cert], exit::INVALID, "revoked");
    assert!(run.stderr.contains("Carol (member of HQ/East/Sales)"), "{run}");
    assert!(run.stderr.contains("left the company"), "{run}");
    let status = member.status();
    assert_eq!(status["role"], Value::Null);
    assert_eq!(status["device_certified"], false);
    assert_eq!(member.names(&[]), ["Alice"]);
    for name in ["Bob", "Carol"] {
        let row = row_of(&member, name);
        assert_eq!(row["status"]["valid"], false, "{row}");
        assert!(
            row["status"]["status"]
                .as_str()
                .is_some_and(|s| s.starts_with("revoked")),
            "{row}"
        );
    }
    member
        .ok(["cert", "list", "--all", "--dept", "HQ/East/Sales"])
        .stdout_has("revoked");
    member.fails(["cert", "install", &member_cert], exit::INVALID, "revoked");

    // Bob, once he hears of it, can no longer certify anyone.
    head.ok(["cert", "install", "bob.rev"]);
    assert_eq!(head.status()["role"], Value::Null);
    let erin = sb.node("erin");
    erin.init("Erin");
    head.fails(
        [
            "cert",
            "issue",
            &erin.request(),
            "--role",
            "member",
            "--dept",
            "HQ/East",
        ],
        exit::INVALID,
        "holds no valid certificate",
    );

    // A revocation cannot be repeated.
    admin.fails(
        ["cert", "revoke", &serial, "--reason", "again"],
        exit::INVALID,
        "already revoked",
    );
}

/// The armor as documented in `crates/identity/src/armor.rs`, written out
/// here independently: the label, then the bytes.
fn unarmor(text: &str) -> (String, Vec<u8>) {
    let mut lines = text.lines();
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN OUTPOST "))
        .and_then(|l| l.strip_suffix("-----"))
        .expect("armored text starts with a BEGIN line")
        .to_owned();
    let body: String = lines
        .filter(|l| !l.is_empty() && !l.starts_with("Checksum:") && !l.starts_with("-----END"))
        .collect();
    (label, STANDARD.decode(body).expect("the body is base64"))
}

/// Armors `bytes` with a correct checksum (the first 4 bytes of blake3).
fn armor(label: &str, bytes: &[u8]) -> String {
    let checksum = &blake3::hash(bytes).to_hex()[..8];
    let mut out = format!("-----BEGIN OUTPOST {label}-----\nChecksum: {checksum}\n\n");
    for chunk in STANDARD.encode(bytes).as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END OUTPOST {label}-----\n"));
    out
}

#[test]
fn damaged_pastes_are_reported_as_damaged() {
    let Acme {
        sb,
        admin,
        member,
        member_cert,
        ..
    } = acme();
    let text = sb.read(&member_cert);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() > 8,
        "a certificate with its chain spans many lines:\n{text}"
    );

    // Text around the block, as in a mail, does not matter.
    sb.write("mail.txt", &format!("Hi Carol,\n\nhere it is:\n\n{text}\nBest, Bob\n"));
    member.ok(["cert", "verify", "mail.txt"]);

    // One base64 character changed.
    let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let line = &mut changed[4];
    let c = if line.starts_with('A') { "B" } else { "A" };
    line.replace_range(0..1, c);
    sb.write("changed.cert", &(changed.join("\n") + "\n"));
    for node in [&member, &admin] {
        node.fails(
            ["cert", "verify", "changed.cert"],
            exit::INVALID,
            "damaged: the checksum does not match",
        );
        node.fails(["cert", "install", "changed.cert"], exit::INVALID, "damaged");
    }

    // The END line lost.
    sb.write("cut.cert", &(lines[..lines.len() - 1].join("\n") + "\n"));
    member.fails(["cert", "verify", "cut.cert"], exit::INVALID, "truncated");
    member.fails(["cert", "install", "cut.cert"], exit::INVALID, "truncated");

    // Middle lines lost.
    let mut holed = lines.clone();
    holed.drain(4..6);
    sb.write("holed.cert", &(holed.join("\n") + "\n"));
    member.fails(["cert", "verify", "holed.cert"], exit::INVALID, "damaged");
    member.fails(["cert", "install", "holed.cert"], exit::INVALID, "damaged");

    // Only the first lines.
    sb.write("head.cert", &(lines[..3].join("\n") + "\n"));
    member.fails(["cert", "verify", "head.cert"], exit::INVALID, "truncated");

    // Not armored at all.
    sb.write("empty.cert", "");
    member.fails(["cert", "verify", "empty.cert"], exit::INVALID, "not an Outpost text");
}

#[test]
fn forged_certificate_fails_its_signature_check() {
    let Acme {
        sb,
        admin,
        member,
        member_cert,
        ..
    } = acme();
    let text = sb.read(&member_cert);
    let (label, bytes) = unarmor(&text);
    assert_eq!(label, "CERTIFICATE");
    assert_eq!(armor(&label, &bytes), text, "the test's armor must match the binary's");

    // Carol's name, changed inside the signed grant; the checksum is made
    // to match, so only the signature can tell.
    let at: Vec<usize> = bytes
        .windows(5)
        .enumerate()
        .filter(|(_, w)| w == b"Carol")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "Carol's name appears once in her certificate");
    let mut forged = bytes.clone();
    forged[at[0]] = b'K';
    sb.write("forged.cert", &armor(&label, &forged));
    for node in [&member, &admin] {
        node.fails(
            ["cert", "verify", "forged.cert"],
            exit::INVALID,
            "bad signature on op: it was tampered with or forged",
        );
        node.fails(["cert", "install", "forged.cert"], exit::INVALID, "bad signature");
    }
    let stranger = sb.node("stranger");
    stranger.init("Stranger");
    stranger.fails(["cert", "install", "forged.cert"], exit::INVALID, "bad signature");

    // The last byte is the signature of the last op.
    let mut flipped = bytes.clone();
    *flipped.last_mut().expect("a certificate is not empty") ^= 0x01;
    sb.write("flipped.cert", &armor(&label, &flipped));
    member.fails(["cert", "verify", "flipped.cert"], exit::INVALID, "bad signature");

    // A certificate relabelled as something else is refused by label.
    sb.write("relabelled.cert", &armor("INVITE", &bytes));
    member.fails(
        ["invite", "redeem", "relabelled.cert"],
        exit::INVALID,
        "not an Outpost invite",
    );
    sb.write("as-request.cert", &armor("REQUEST", &bytes));
    admin.fails(
        ["cert", "install", "as-request.cert"],
        exit::INVALID,
        "expected an Outpost CERTIFICATE",
    );
}

#[test]
fn expired_certificate_is_refused_after_its_end() {
    let sb = Sandbox::new();
    let admin = sb.node("alice");
    admin.init("Alice");
    admin.ok(["org", "create", "--name", "Acme"]);
    let temp = sb.node("tom");
    temp.init("Tom");
    let cert = admin.issue(
        &temp.request(),
        &["--role", "member", "--dept", "HQ", "--valid", "1d"],
        "tom.cert",
    );
    let later = sb.now() + 2 * DAY;

    admin
        .cmd(["cert", "verify", &cert])
        .at(sb.now() + DAY / 2)
        .run()
        .success();
    admin
        .cmd(["cert", "verify", &cert])
        .at(later)
        .fails(&admin, exit::INVALID, "expired");
    admin.fails(
        ["cert", "verify", &cert, "--at", &later.to_string()],
        exit::INVALID,
        "expired",
    );
    let row = row_of(&admin, "Tom");
    assert_eq!(row["not_after"], sb.now() + DAY);

    // Installed too late: nothing is installed, the node joins no org.
    let run = temp
        .cmd(["cert", "install", &cert])
        .at(later)
        .fails(&temp, exit::INVALID, "expired");
    assert!(run.stderr.contains("ask an admin to renew it"), "{run}");
    assert_eq!(temp.status()["org"], Value::Null);

    // A node already in the org does not record it either.
    let uma = sb.node("uma");
    uma.init("Uma");
    let uma_cert = admin.issue(&uma.request(), &["--role", "member", "--dept", "HQ"], "uma.cert");
    uma.ok(["cert", "install", &uma_cert]);
    uma.cmd(["cert", "install", &cert])
        .at(later)
        .fails(&uma, exit::INVALID, "expired");
    assert_eq!(uma.names(&["--all"]), ["Alice", "Uma"]);

    // Installed in time, then time passes.
    temp.ok(["cert", "install", &cert]);
    assert_eq!(temp.status()["role"]["role"], "member");
    let status = temp.cmd(["status", "--json"]).at(later).run().success().json();
    assert_eq!(status["role"], Value::Null);
    assert_eq!(status["device_certified"], false);
    let listed = temp.cmd(["cert", "list", "--json"]).at(later).run().success().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "only Alice is live: {listed}");
    let all = temp.cmd(["cert", "list", "--all"]).at(later).run().success();
    assert!(
        all.stdout.lines().any(|l| l.contains("Tom") && l.contains("expired")),
        "{all}"
    );
}

#[test]
fn certificate_of_another_org_is_refused() {
    let Acme { sb, admin, member, .. } = acme();
    let rival = sb.node("rival");
    rival.init("Rita");
    rival.ok(["org", "create", "--name", "Rival"]);
    // Carol asks the rival org too; its certificate names her key, but not
    // her org.
    let cert = rival.issue(
        &member.request(),
        &["--role", "member", "--dept", "Ops"],
        "carol-rival.cert",
    );
    rival.ok(["cert", "verify", &cert]);

    for node in [&member, &admin] {
        let run = node.fails(["cert", "verify", &cert], exit::INVALID, "not to this node's org");
        assert!(run.stderr.contains("(Rival)"), "{run}");
        node.fails(["cert", "install", &cert], exit::INVALID, "not to this node's org");
    }
    assert_eq!(member.status()["org"]["name"], "Acme");

    // An Acme invite cannot be redeemed on a Rival node either.
    sb.write("one.csv", "name,department\nRita,HQ\n");
    admin.ok(["staff", "import", "one.csv", "--out", "inv"]);
    rival.fails(
        ["invite", "redeem", "inv/0002-rita.invite"],
        exit::INVALID,
        "this invite is for org",
    );
}

#[test]
fn dept_head_cannot_issue_outside_their_subtree_or_above_their_rank() {
    let Acme { sb, head, member, .. } = acme();
    let eve = sb.node("eve");
    eve.init("Eve");
    let req = eve.request();

    for dept in ["HQ/West", "HQ", "HQ/Eastern", ""] {
        head.fails(
            [
                "cert", "issue", &req, "--role", "member", "--dept", dept, "--out", "eve.cert",
            ],
            exit::INVALID,
            "outside",
        );
    }
    for role in ["dept-head", "admin"] {
        let needle = format!("a department head cannot issue {role} certificates");
        head.fails(
            [
                "cert",
                "issue",
                &req,
                "--role",
                role,
                "--dept",
                "HQ/East/Sub",
                "--out",
                "eve.cert",
            ],
            exit::INVALID,
            &needle,
        );
    }
    head.fails(
        [
            "cert",
            "issue",
            &req,
            "--role",
            "admin",
            "--as-root",
            "--out",
            "eve.cert",
        ],
        exit::ERROR,
        "org root key is not on this node",
    );
    member.fails(
        [
            "cert",
            "issue",
            &req,
            "--role",
            "guest",
            "--dept",
            "HQ/East/Sales",
            "--out",
            "eve.cert",
        ],
        exit::INVALID,
        "a member cannot issue",
    );
    assert!(!sb.path("eve.cert").exists(), "a refused certificate was written");

    // Inside the subtree it works.
    head.issue(
        &req,
        &["--role", "member", "--dept", "HQ/East/Sales/Team-A"],
        "eve.cert",
    );
    eve.ok(["cert", "install", "eve.cert"]);
    assert_eq!(eve.status()["role"]["dept"], "HQ/East/Sales/Team-A");
}

#[test]
fn wrong_or_missing_passphrase_opens_no_key_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.write("pass.txt", "correct horse battery staple\n");
    sb.write("wrong.txt", "incorrect horse\n");
    let pat = sb.node("pat");
    pat.ok(["--passphrase-file", "pass.txt", "init", "--name", "Pat"]);
    for key in ["pat/keys/member.key", "pat/keys/device.key"] {
        assert!(
            matches!(keyfile::is_encrypted(&sb.read(key)), Ok(true)),
            "{key} is not encrypted"
        );
    }

    // Commands that need no key need no passphrase.
    assert_eq!(pat.status()["name"], "Pat");

    pat.cmd(["cert", "request"])
        .env("OUTPOST_PASSPHRASE", "incorrect horse")
        .fails(&pat, exit::KEY, "wrong passphrase");
    pat.fails(
        ["--passphrase-file", "wrong.txt", "cert", "request"],
        exit::KEY,
        "wrong passphrase",
    );
    pat.fails(["cert", "request"], exit::KEY, "the key is encrypted with a passphrase");
    pat.cmd(["org", "create", "--name", "Pat Inc"])
        .env("OUTPOST_PASSPHRASE", "nope")
        .fails(&pat, exit::KEY, "wrong passphrase");
    assert!(
        !sb.path("pat/keys/org-root.key").exists(),
        "a failed org create left a root key"
    );
    pat.cmd(["cert", "request", "--out", "pat.req"])
        .env("OUTPOST_PASSPHRASE", "correct horse battery staple")
        .run()
        .success();

    // Installing certifies the device, which needs the member key: without
    // the passphrase, nothing is installed.
    let admin = sb.node("alice");
    admin.init("Alice");
    admin.ok(["org", "create", "--name", "Acme"]);
    let cert = admin.issue("pat.req", &["--role", "member", "--dept", "HQ"], "pat.cert");
    pat.fails(["cert", "install", &cert], exit::KEY, "encrypted with a passphrase");
    pat.cmd(["cert", "install", &cert])
        .env("OUTPOST_PASSPHRASE", "wrong")
        .fails(&pat, exit::KEY, "wrong passphrase");
    assert_eq!(pat.status()["org"], Value::Null);
    pat.ok(["--passphrase-file", "pass.txt", "cert", "install", &cert])
        .stdout_has("certified this device");
    assert_eq!(pat.status()["device_certified"], true);

    // An admin whose keys are encrypted cannot sign without the passphrase.
    let vault = sb.node("vault");
    vault.ok(["--passphrase-file", "pass.txt", "init", "--name", "Val"]);
    vault.ok(["--passphrase-file", "pass.txt", "org", "create", "--name", "Vault"]);
    let quinn = sb.node("quinn");
    quinn.init("Quinn");
    let req = quinn.request();
    vault.fails(
        ["cert", "issue", &req, "--role", "member", "--dept", "HQ"],
        exit::KEY,
        "encrypted with a passphrase",
    );
    vault.fails(
        [
            "--passphrase-file",
            "wrong.txt",
            "cert",
            "issue",
            &req,
            "--role",
            "member",
            "--dept",
            "HQ",
        ],
        exit::KEY,
        "wrong passphrase",
    );
    vault.fails(
        [
            "--passphrase-file",
            "wrong.txt",
            "cert",
            "issue",
            &req,
            "--role",
            "admin",
            "--as-root",
        ],
        exit::KEY,
        "wrong passphrase",
    );
    let serial = serial_of(&vault, "Val");
    vault.fails(
        ["cert", "revoke", &serial, "--reason", "test"],
        exit::KEY,
        "encrypted with a passphrase",
    );
    vault.ok([
        "--passphrase-file",
        "pass.txt",
        "cert",
        "issue",
        &req,
        "--role",
        "member",
        "--dept",
        "HQ",
    ]);
}

#[test]
fn staff_import_invites_redeem_into_the_listed_role() {
    let Acme { sb, admin, head, .. } = acme();
    sb.write(
        "staff.csv",
        "name,department,position,level,role,email\n\
         Frank Lee,HQ/East/Sales,Account manager,4,member,frank@acme.test\n\
         Gina Park,HQ//East,Analyst,3,member,gina@acme.test\n\
         Hank Moss,HQ/West,Engineer,5,,hank@acme.test\n\
         Ivy Chen,HQ/North,Head of North,2,dept-head,ivy@acme.test\n\
         Jon Roe,HQ/East,Intern,x,member,jon@acme.test\n",
    );
    let run = admin.fails(
        ["staff", "import", "staff.csv", "--out", "invites"],
        exit::PARTIAL,
        "2 row(s) failed",
    );
    let run = run
        .stderr_has("line 3: department path \"HQ//East\" is not valid")
        .stderr_has("line 6: level \"x\" is not a whole number")
        .stdout_has("3 invite(s) written");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("3  Gina Park") && l.contains("ERROR")),
        "{run}"
    );
    let mut files: Vec<String> = std::fs::read_dir(sb.path("invites"))
        .expect("the invites directory exists")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["0002-frank.invite", "0004-hank.invite", "0005-ivy.invite"]);
    admin
        .ok(["cert", "show", "invites/0004-hank.invite"])
        .stdout_has("role      member")
        .stdout_has("HQ/West");

    // Frank redeems his invite; Alice issues without asking anything.
    let frank = sb.node("frank");
    frank.init("Frank");
    frank
        .ok(["invite", "redeem", "invites/0002-frank.invite", "--out", "frank.req"])
        .stdout_has("member of HQ/East/Sales");
    admin.fails(
        ["cert", "issue", "frank.req", "--role", "admin"],
        exit::ERROR,
        "drop --role",
    );
    head.fails(["cert", "issue", "frank.req"], exit::INVALID, "not by you");
    let issued = admin.json(["cert", "issue", "frank.req", "--out", "frank.cert"]);
    assert_eq!(
        (issued["role"].as_str(), issued["dept"].as_str()),
        (Some("member"), Some("HQ/East/Sales"))
    );
    frank
        .ok(["cert", "install", "frank.cert"])
        .stdout_has("certified this device");
    let status = frank.status();
    assert_eq!(status["role"]["role"], "member");
    assert_eq!(status["role"]["dept"], "HQ/East/Sales");
    assert_eq!(status["device_certified"], true);
    let row = row_of(&frank, "Frank Lee");
    assert_eq!(row["position"], "Account manager");
    assert_eq!(row["level"], 4);
    assert_eq!(row["email"], "frank@acme.test");
    assert_eq!(row["not_after"], sb.now() + 365 * DAY);

    // The invite is spent: neither the same request nor a copy of the invite
    // redeemed by someone else gets a second certificate.
    admin.fails(
        ["cert", "issue", "frank.req", "--out", "frank2.cert"],
        exit::INVALID,
        "already redeemed",
    );
    let mallory = sb.node("mallory");
    mallory.init("Mallory");
    mallory.ok(["invite", "redeem", "invites/0002-frank.invite", "--out", "mallory.req"]);
    admin.fails(
        ["cert", "issue", "mallory.req", "--out", "mallory.cert"],
        exit::INVALID,
        "already redeemed",
    );
    assert!(!sb.path("frank2.cert").exists() && !sb.path("mallory.cert").exists());

    // The invite's own expiry is checked on both sides.
    let late = sb.now() + 31 * DAY;
    let ivy = sb.node("ivy");
    ivy.init("Ivy");
    ivy.cmd(["invite", "redeem", "invites/0005-ivy.invite"])
        .at(late)
        .fails(&ivy, exit::INVALID, "expired");
    ivy.ok(["invite", "redeem", "invites/0005-ivy.invite", "--out", "ivy.req"]);
    admin
        .cmd(["cert", "issue", "ivy.req"])
        .at(late)
        .fails(&admin, exit::INVALID, "the invite expired");
    admin.ok(["cert", "issue", "ivy.req", "--out", "ivy.cert"]);
    ivy.ok(["cert", "install", "ivy.cert"]);
    assert_eq!(ivy.status()["role"]["role"], "dept-head");

    // Keys are private to their owner.
    for key in [
        "alice/keys/member.key",
        "alice/keys/device.key",
        "alice/keys/org-root.key",
        "frank/keys/member.key",
        "frank/keys/device.key",
    ] {
        let mode = std::fs::metadata(sb.path(key))
            .expect("the key file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key} has mode {:o}", mode & 0o777);
    }
    for dir in ["alice", "alice/keys", "frank/keys"] {
        let mode = std::fs::metadata(sb.path(dir))
            .expect("the directory exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{dir} has mode {:o}", mode & 0o777);
    }
}

#[test]
fn failed_commands_leave_the_store_readable_and_unchanged() {
    let Acme {
        sb,
        admin,
        member,
        member_cert,
        ..
    } = acme();
    let before = admin.list(&["--all"]);
    sb.write(
        "garbage.cert",
        "-----BEGIN OUTPOST CERTIFICATE-----\nChecksum: 00000000\n\nAAAA\n-----END OUTPOST CERTIFICATE-----\n",
    );
    sb.write("bad.csv", "who,where\nx,y\n");
    let runs: &[(&[&str], i32, &str)] = &[
        (&["cert", "install", "garbage.cert"], exit::INVALID, "damaged"),
        (
            &["cert", "install", "missing.cert"],
            exit::ERROR,
            "cannot read missing.cert",
        ),
        (
            &["cert", "revoke", "ffffffffffffffff", "--reason", "x"],
            exit::ERROR,
            "no certificate with serial",
        ),
        (
            &["cert", "revoke", "", "--reason", "x"],
            exit::ERROR,
            "no certificate with serial",
        ),
        (
            &["cert", "issue", "garbage.cert", "--role", "member"],
            exit::INVALID,
            "damaged",
        ),
        (
            &["cert", "issue", "carol.cert", "--role", "member"],
            exit::INVALID,
            "expected an Outpost REQUEST",
        ),
        (
            &["cert", "issue", "carol.req", "--role", "chief"],
            exit::ERROR,
            "unknown role",
        ),
        (
            &["cert", "issue", "carol.req", "--role", "member", "--valid", "soon"],
            exit::ERROR,
            "cannot read duration",
        ),
        (
            &["cert", "issue", "carol.req", "--role", "member", "--dept", "HQ//East"],
            exit::ERROR,
            "department path",
        ),
        (&["cert", "issue", "carol.req"], exit::ERROR, "--role is required"),
        (&["cert", "issue"], exit::USAGE, "Usage"),
        (
            &["org", "create", "--name", "Second"],
            exit::ERROR,
            "already belongs to org",
        ),
        (
            &["init", "--name", "Again"],
            exit::ERROR,
            "already holds an Outpost identity",
        ),
        (
            &["staff", "import", "bad.csv", "--out", "nowhere"],
            exit::ERROR,
            "lacks column(s) name, department",
        ),
    ];
    for (args, code, needle) in runs {
        admin.fails(*args, *code, needle);
        member.fails(*args, *code, needle);
    }
    assert!(
        !sb.path("nowhere").exists(),
        "a refused staff list still made its output directory"
    );
    assert_eq!(admin.list(&["--all"]), before);
    member.ok(["cert", "verify", &member_cert]);
}
