//! The identity commands end to end: the real `outpost` binary, one home
//! per person, files passed between them as people would mail them.
//!
//! Every failing command is run through [`Node::fails`], which also checks
//! that the node's status and certificate list are the same afterwards.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use outpost_identity::keyfile;
use outpost_tests::{DAY, Node, Sandbox, exit, words};
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
        .ok(words("org create --name Acme"))
        .stdout_has("Alice is its first admin");

    let head = sb.node("bob");
    head.init("Bob");
    let head_cert = admin.issue(
        &head.request(),
        words("--role dept-head --dept HQ/East --position 'Head of East' --level 2"),
        "bob.cert",
    );
    head.ok(["cert", "install", &head_cert])
        .stdout_has("installed dept-head certificate for Bob in HQ/East (valid)");

    let member = sb.node("carol");
    member.init("Carol");
    let member_cert = head.issue(
        &member.request(),
        words("--role member --dept HQ/East/Sales --position 'Sales rep' --level 3"),
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

/// The row of the certificate named `name` in `cert list --all --json`.
fn row_of(node: &Node, name: &str) -> Value {
    let rows = node.list(&["--all"]);
    rows.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed in {rows:?}"))
        .clone()
}

/// The serial of the certificate named `name`, as `cert revoke` takes it.
fn serial_of(node: &Node, name: &str) -> String {
    row_of(node, name)["serial"]
        .as_str()
        .expect("serials are strings")
        .to_owned()
}

/// The role and department in `status --json`.
fn role_of(node: &Node) -> [String; 2] {
    let status = node.status();
    let role = &status["role"];
    assert!(role.is_object(), "{} holds no role: {status}", node.name());
    ["role", "dept"].map(|k| role[k].as_str().expect("role and dept are strings").to_owned())
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

    assert_eq!(role_of(&admin), ["admin", ""]);
    assert_eq!(role_of(&head), ["dept-head", "HQ/East"]);
    assert_eq!(role_of(&member), ["member", "HQ/East/Sales"]);
    for node in [&admin, &head, &member] {
        let status = node.status();
        assert_eq!(status["device_certified"], true, "{status}");
        assert_eq!(status["org"]["name"], "Acme", "{status}");
        assert_eq!(status["org"]["id"], admin.status()["org"]["id"], "{status}");
    }

    // Each certificate checks out on every node of the org, and on a node
    // that belongs to no org at all: the bundle carries the whole chain.
    let stranger = sb.node("stranger");
    for node in [&admin, &head, &member, &stranger] {
        node.ok(["cert", "verify", &head_cert])
            .stdout_has("valid: Bob (dept-head of HQ/East)");
        node.ok(["cert", "verify", &member_cert])
            .stdout_has("valid: Carol (member of HQ/East/Sales)");
    }
    assert_eq!(member.json(["cert", "verify", &member_cert])["valid"], true);

    // Installing a certificate certifies the member's device in the same step.
    let dave = sb.node("dave");
    dave.init("Dave");
    let cert = head.issue(
        &dave.request(),
        words("--role guest --dept HQ/East --resource doc-1"),
        "dave.cert",
    );
    let installed = dave.json(["cert", "install", &cert]);
    assert_eq!(installed["status"]["valid"], true, "{installed}");
    assert!(
        installed["device_cert"].is_string(),
        "no device certificate in {installed}"
    );
    assert_eq!(dave.status()["device_certified"], true);
    assert_eq!(role_of(&dave), ["guest", "HQ/East"]);

    // Carol's node learnt the chain above her; filter it.
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

    member
        .ok(words("cert list --dept HQ/East/Sales"))
        .stdout_has("Sales rep")
        .stdout_has("1 certificate(s)");
    member.fails(words("cert list --role boss"), exit::ERROR, "unknown role \"boss\"");
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
    // Alice learns of Carol's certificate, as sync would tell her.
    admin.ok(["cert", "install", &member_cert]);
    let carol_id = row_of(&admin, "Carol")["id"].clone();

    let serial = serial_of(&admin, "Bob");
    let revoked = admin.json(words(&format!(
        "cert revoke {serial} --reason 'left the company' --out bob.rev"
    )));
    assert_eq!(revoked["target"], row_of(&admin, "Bob")["id"]);
    assert_eq!(revoked["cascade"], Value::Array(vec![carol_id]));
    assert_eq!(admin.names(&[]), ["Alice"]);
    admin.fails(["cert", "verify", &head_cert], exit::INVALID, "revoked");

    // Carol receives the revocation.
    member
        .ok(words("cert install bob.rev"))
        .stdout_has("recorded revocation")
        .stdout_has("left the company");
    member
        .fails(["cert", "verify", &member_cert], exit::INVALID, "revoked")
        .stderr_has("Carol (member of HQ/East/Sales)")
        .stderr_has("(left the company)");
    let status = member.status();
    assert_eq!(status["role"], Value::Null, "{status}");
    assert_eq!(status["device_certified"], false, "{status}");
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
    let listing = member.ok(words("cert list --all --dept HQ/East/Sales"));
    assert!(
        listing
            .stdout
            .lines()
            .any(|l| l.contains("Carol") && l.ends_with("revoked")),
        "{listing}"
    );
    member.fails(["cert", "install", &member_cert], exit::INVALID, "revoked");

    // Bob, once he hears of it, can no longer certify anyone.
    head.ok(words("cert install bob.rev"));
    assert_eq!(head.status()["role"], Value::Null);
    let erin = sb.node("erin");
    erin.init("Erin");
    let req = erin.request();
    head.fails(
        words(&format!("cert issue {req} --role member --dept HQ/East")),
        exit::INVALID,
        "holds no valid certificate",
    );

    // A revocation is made once.
    admin.fails(
        words(&format!("cert revoke {serial} --reason again")),
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

/// Armors `bytes` with a correct checksum: the first 4 bytes of blake3.
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
    // BEGIN, Checksum, blank, at least six lines of base64, END.
    assert!(
        lines.len() > 8,
        "a certificate with its chain spans many lines:\n{text}"
    );

    // Text around the block, as in a mail, does not matter.
    sb.write("mail.txt", &format!("Hi Carol,\n\nhere it is:\n\n{text}\nBest, Bob\n"));
    member.ok(words("cert verify mail.txt"));

    // One base64 character changed.
    let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let other = if changed[4].starts_with('A') { "B" } else { "A" };
    changed[4].replace_range(0..1, other);
    sb.write("changed.cert", &(changed.join("\n") + "\n"));
    for node in [&member, &admin] {
        node.fails(
            words("cert verify changed.cert"),
            exit::INVALID,
            "damaged: the checksum does not match",
        );
        node.fails(words("cert install changed.cert"), exit::INVALID, "damaged");
    }

    // The END line lost.
    sb.write("cut.cert", &(lines[..lines.len() - 1].join("\n") + "\n"));
    member.fails(words("cert verify cut.cert"), exit::INVALID, "truncated");
    member.fails(words("cert install cut.cert"), exit::INVALID, "truncated");

    // Two middle lines lost.
    let mut holed = lines.clone();
    holed.drain(4..6);
    sb.write("holed.cert", &(holed.join("\n") + "\n"));
    member.fails(words("cert verify holed.cert"), exit::INVALID, "damaged");
    member.fails(words("cert install holed.cert"), exit::INVALID, "damaged");

    // Only the header lines.
    sb.write("header.cert", &(lines[..3].join("\n") + "\n"));
    member.fails(words("cert verify header.cert"), exit::INVALID, "truncated");

    // Nothing at all.
    sb.write("empty.cert", "");
    member.fails(words("cert verify empty.cert"), exit::INVALID, "not an Outpost text");
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

    // Carol's name changed inside her signed grant, with a checksum to
    // match: only the signature can tell.
    let at: Vec<usize> = (0..bytes.len() - 5)
        .filter(|i| &bytes[*i..*i + 5] == b"Carol")
        .collect();
    assert_eq!(at.len(), 1, "Carol's name appears once in her certificate");
    let mut forged = bytes.clone();
    forged[at[0]] = b'K';
    sb.write("forged.cert", &armor(&label, &forged));
    for node in [&member, &admin] {
        node.fails(
            words("cert verify forged.cert"),
            exit::INVALID,
            "bad signature on op: it was tampered with or forged",
        );
        node.fails(words("cert install forged.cert"), exit::INVALID, "bad signature");
    }
    let stranger = sb.node("stranger");
    stranger.init("Stranger");
    stranger.fails(words("cert install forged.cert"), exit::INVALID, "bad signature");

    // A flipped bit in the last byte: the signature of the last op.
    let mut flipped = bytes.clone();
    *flipped.last_mut().expect("a certificate is not empty") ^= 0x01;
    sb.write("flipped.cert", &armor(&label, &flipped));
    member.fails(words("cert verify flipped.cert"), exit::INVALID, "bad signature");

    // The same bytes under another label are refused as that kind of object.
    sb.write("relabelled.invite", &armor("INVITE", &bytes));
    member.fails(
        words("invite redeem relabelled.invite"),
        exit::INVALID,
        "not an Outpost invite",
    );
    sb.write("relabelled.req", &armor("REQUEST", &bytes));
    admin.fails(
        words("cert install relabelled.req"),
        exit::INVALID,
        "expected an Outpost CERTIFICATE",
    );
}

#[test]
fn expired_certificate_is_refused_after_its_end() {
    let sb = Sandbox::new();
    let admin = sb.node("alice");
    admin.init("Alice");
    admin.ok(words("org create --name Acme"));
    let tom = sb.node("tom");
    tom.init("Tom");
    admin.issue(&tom.request(), words("--role member --dept HQ --valid 1d"), "tom.cert");
    assert_eq!(row_of(&admin, "Tom")["not_after"], sb.now() + DAY);
    let later = sb.now() + 2 * DAY;

    admin
        .cmd(words("cert verify tom.cert"))
        .at(sb.now() + DAY / 2)
        .run()
        .success();
    admin
        .cmd(words("cert verify tom.cert"))
        .at(later)
        .fails(&admin, exit::INVALID, "expired");
    admin.fails(
        words(&format!("cert verify tom.cert --at {later}")),
        exit::INVALID,
        "expired",
    );

    // Installed too late: nothing is installed, the node joins no org.
    tom.cmd(words("cert install tom.cert"))
        .at(later)
        .fails(&tom, exit::INVALID, "expired")
        .stderr_has("ask an admin to renew it");
    assert_eq!(tom.status()["org"], Value::Null);

    // A node already in the org does not record it either.
    let uma = sb.node("uma");
    uma.init("Uma");
    let uma_cert = admin.issue(&uma.request(), words("--role member --dept HQ"), "uma.cert");
    uma.ok(["cert", "install", &uma_cert]);
    uma.cmd(words("cert install tom.cert"))
        .at(later)
        .fails(&uma, exit::INVALID, "expired");
    assert_eq!(uma.names(&["--all"]), ["Alice", "Uma"]);

    // Installed in time, then time passes.
    tom.ok(words("cert install tom.cert"));
    assert_eq!(role_of(&tom), ["member", "HQ"]);
    let status = tom.cmd(words("status --json")).at(later).run().success().json();
    assert_eq!(status["role"], Value::Null, "{status}");
    assert_eq!(status["device_certified"], false, "{status}");
    let live = tom.cmd(words("cert list --json")).at(later).run().success().json();
    assert_eq!(live.as_array().map(Vec::len), Some(1), "only Alice is live: {live}");
    let all = tom.cmd(words("cert list --all")).at(later).run().success();
    assert!(
        all.stdout.lines().any(|l| l.contains("Tom") && l.ends_with("expired")),
        "{all}"
    );
}

#[test]
fn certificate_of_another_org_is_refused() {
    let Acme { sb, admin, member, .. } = acme();
    let rival = sb.node("rita");
    rival.init("Rita");
    rival.ok(words("org create --name Rival"));
    // Carol asks the rival org too: its certificate names her key, but
    // belongs to another org.
    let cert = rival.issue(&member.request(), words("--role member --dept Ops"), "carol-rival.cert");
    rival.ok(["cert", "verify", &cert]);

    for node in [&member, &admin] {
        node.fails(["cert", "verify", &cert], exit::INVALID, "not to this node's org")
            .stderr_has("(Rival)");
        node.fails(["cert", "install", &cert], exit::INVALID, "not to this node's org");
    }
    assert_eq!(member.status()["org"]["name"], "Acme");

    // An Acme invite is not redeemed on a Rival node either.
    sb.write("one.csv", "name,department\nRita,HQ\n");
    admin.ok(words("staff import one.csv --out invites"));
    rival.fails(
        words("invite redeem invites/0002-rita.invite"),
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

    for dept in ["HQ/West", "HQ", "HQ/Eastern", "/"] {
        let line = format!("cert issue {req} --role member --dept {dept} --out eve.cert");
        head.fails(
            words(&line),
            exit::INVALID,
            "outside the issuer's department \"HQ/East\"",
        );
    }
    for role in ["dept-head", "admin"] {
        let line = format!("cert issue {req} --role {role} --dept HQ/East/Sub --out eve.cert");
        head.fails(
            words(&line),
            exit::INVALID,
            &format!("a department head cannot issue {role} certificates"),
        );
    }
    let line = format!("cert issue {req} --role admin --as-root --out eve.cert");
    head.fails(words(&line), exit::ERROR, "org root key is not on this node");
    let line = format!("cert issue {req} --role guest --dept HQ/East/Sales --out eve.cert");
    member.fails(words(&line), exit::INVALID, "a member cannot issue role certificates");
    assert!(!sb.path("eve.cert").exists(), "a refused certificate was written");

    // Inside the subtree it works.
    head.issue(&req, words("--role member --dept HQ/East/Sales/Team-A"), "eve.cert");
    eve.ok(words("cert install eve.cert"));
    assert_eq!(role_of(&eve), ["member", "HQ/East/Sales/Team-A"]);
}

#[test]
fn wrong_or_missing_passphrase_opens_no_key_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.write("pass.txt", "correct horse battery staple\n");
    sb.write("wrong.txt", "incorrect horse\n");
    let pat = sb.node("pat");
    pat.ok(words("--passphrase-file pass.txt init --name Pat"));
    for key in ["pat/keys/member.key", "pat/keys/device.key"] {
        assert!(
            matches!(keyfile::is_encrypted(&sb.read(key)), Ok(true)),
            "{key} is not encrypted"
        );
    }
    // Commands that need no private key need no passphrase.
    assert_eq!(pat.status()["name"], "Pat");

    pat.cmd(words("cert request"))
        .env("OUTPOST_PASSPHRASE", "incorrect horse")
        .fails(&pat, exit::KEY, "wrong passphrase");
    pat.fails(
        words("--passphrase-file wrong.txt cert request"),
        exit::KEY,
        "wrong passphrase",
    );
    pat.fails(
        words("cert request"),
        exit::KEY,
        "the key is encrypted with a passphrase",
    );
    pat.cmd(words("org create --name Pats"))
        .env("OUTPOST_PASSPHRASE", "nope")
        .fails(&pat, exit::KEY, "wrong passphrase");
    assert!(
        !sb.path("pat/keys/org-root.key").exists(),
        "a failed org create left a root key"
    );
    pat.cmd(words("cert request --out pat.req"))
        .env("OUTPOST_PASSPHRASE", "correct horse battery staple")
        .run()
        .success();

    // Installing certifies the device, which needs the member key: without
    // the passphrase nothing is installed.
    let admin = sb.node("alice");
    admin.init("Alice");
    admin.ok(words("org create --name Acme"));
    admin.issue("pat.req", words("--role member --dept HQ"), "pat.cert");
    pat.fails(words("cert install pat.cert"), exit::KEY, "encrypted with a passphrase");
    pat.cmd(words("cert install pat.cert"))
        .env("OUTPOST_PASSPHRASE", "wrong")
        .fails(&pat, exit::KEY, "wrong passphrase");
    assert_eq!(pat.status()["org"], Value::Null);
    pat.ok(words("--passphrase-file pass.txt cert install pat.cert"))
        .stdout_has("certified this device");
    assert_eq!(pat.status()["device_certified"], true);

    // An admin whose keys are encrypted signs nothing without the passphrase.
    let val = sb.node("val");
    val.ok(words("--passphrase-file pass.txt init --name Val"));
    val.ok(words("--passphrase-file pass.txt org create --name Vault"));
    let quinn = sb.node("quinn");
    quinn.init("Quinn");
    let req = quinn.request();
    let issue = format!("cert issue {req} --role member --dept HQ");
    val.fails(words(&issue), exit::KEY, "encrypted with a passphrase");
    val.fails(
        words(&format!("--passphrase-file wrong.txt {issue}")),
        exit::KEY,
        "wrong passphrase",
    );
    let as_root = format!("--passphrase-file wrong.txt cert issue {req} --role admin --as-root");
    val.fails(words(&as_root), exit::KEY, "wrong passphrase");
    let revoke = format!("cert revoke {} --reason test", serial_of(&val, "Val"));
    val.fails(words(&revoke), exit::KEY, "encrypted with a passphrase");
    val.ok(words(&format!("--passphrase-file pass.txt {issue}")));
    assert_eq!(val.names(&[]), ["Quinn", "Val"]);
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
    let run = admin
        .fails(
            words("staff import staff.csv --out invites"),
            exit::PARTIAL,
            "2 row(s) failed",
        )
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
        .ok(words("cert show invites/0004-hank.invite"))
        .stdout_has("role      member")
        .stdout_has("HQ/West");

    // Frank redeems his invite; Alice issues it without asking anything.
    let frank = sb.node("frank");
    frank.init("Frank");
    frank
        .ok(words("invite redeem invites/0002-frank.invite --out frank.req"))
        .stdout_has("member of HQ/East/Sales");
    admin.fails(words("cert issue frank.req --role admin"), exit::ERROR, "drop --role");
    head.fails(words("cert issue frank.req"), exit::INVALID, "not by you");
    let issued = admin.json(words("cert issue frank.req --out frank.cert"));
    assert_eq!(issued["role"], "member");
    assert_eq!(issued["dept"], "HQ/East/Sales");
    frank
        .ok(words("cert install frank.cert"))
        .stdout_has("certified this device");
    assert_eq!(role_of(&frank), ["member", "HQ/East/Sales"]);
    assert_eq!(frank.status()["device_certified"], true);
    let row = row_of(&frank, "Frank Lee");
    assert_eq!(row["position"], "Account manager");
    assert_eq!(row["level"], 4);
    assert_eq!(row["email"], "frank@acme.test");
    assert_eq!(row["not_after"], sb.now() + 365 * DAY);

    // The invite is spent: neither the same request nor a copy of the
    // invite redeemed by someone else gets a second certificate.
    admin.fails(
        words("cert issue frank.req --out frank2.cert"),
        exit::INVALID,
        "already redeemed",
    );
    let mallory = sb.node("mallory");
    mallory.init("Mallory");
    mallory.ok(words("invite redeem invites/0002-frank.invite --out mallory.req"));
    admin.fails(
        words("cert issue mallory.req --out mallory.cert"),
        exit::INVALID,
        "already redeemed",
    );
    assert!(!sb.path("frank2.cert").exists() && !sb.path("mallory.cert").exists());

    // The invite's own expiry (30 days) is checked on both sides.
    let late = sb.now() + 31 * DAY;
    let ivy = sb.node("ivy");
    ivy.init("Ivy");
    ivy.cmd(words("invite redeem invites/0005-ivy.invite"))
        .at(late)
        .fails(&ivy, exit::INVALID, "this invite expired");
    ivy.ok(words("invite redeem invites/0005-ivy.invite --out ivy.req"));
    admin
        .cmd(words("cert issue ivy.req"))
        .at(late)
        .fails(&admin, exit::INVALID, "the invite expired");
    admin.ok(words("cert issue ivy.req --out ivy.cert"));
    ivy.ok(words("cert install ivy.cert"));
    assert_eq!(role_of(&ivy), ["dept-head", "HQ/North"]);

    // Keys are private to their owner; so are invites, which anyone
    // holding one could redeem.
    for invite in &files {
        assert_mode(&sb, &format!("invites/{invite}"), 0o600);
    }
    for key in ["member", "device", "org-root"].map(|k| format!("alice/keys/{k}.key")) {
        assert_mode(&sb, &key, 0o600);
    }
    for key in ["member", "device"].map(|k| format!("frank/keys/{k}.key")) {
        assert_mode(&sb, &key, 0o600);
    }
    for dir in ["alice", "alice/keys", "frank", "frank/keys"] {
        assert_mode(&sb, dir, 0o700);
    }
}

fn assert_mode(sb: &Sandbox, name: &str, mode: u32) {
    let found = std::fs::metadata(sb.path(name))
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(found, mode, "{name} has mode {found:o}, not {mode:o}");
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
    let failures = [
        ("cert install garbage.cert", exit::INVALID, "damaged"),
        ("cert install missing.cert", exit::ERROR, "cannot read missing.cert"),
        (
            "cert revoke ffffffffffffffff --reason x",
            exit::ERROR,
            "no certificate with serial",
        ),
        ("cert issue garbage.cert --role member", exit::INVALID, "damaged"),
        (
            "cert issue carol.cert --role member",
            exit::INVALID,
            "expected an Outpost REQUEST",
        ),
        (
            "cert issue carol.req --role chief",
            exit::ERROR,
            "unknown role \"chief\"",
        ),
        (
            "cert issue carol.req --role member --valid soon",
            exit::ERROR,
            "cannot read duration \"soon\"",
        ),
        (
            "cert issue carol.req --role member --dept HQ//East",
            exit::ERROR,
            "department path \"HQ//East\"",
        ),
        ("cert issue carol.req", exit::ERROR, "--role is required"),
        ("cert issue", exit::USAGE, "Usage"),
        ("org create --name Second", exit::ERROR, "already belongs to org"),
        ("init --name Again", exit::ERROR, "already holds an Outpost identity"),
        (
            "staff import bad.csv --out nowhere",
            exit::ERROR,
            "lacks column(s) name, department",
        ),
    ];
    for (line, code, needle) in failures {
        admin.fails(words(line), code, needle);
        member.fails(words(line), code, needle);
    }
    assert!(
        !sb.path("nowhere").exists(),
        "a refused staff list made its output directory"
    );
    assert_eq!(admin.list(&["--all"]), before);
    member.ok(["cert", "verify", &member_cert]);
}
