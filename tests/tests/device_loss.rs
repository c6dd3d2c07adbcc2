//! "A laptop was stolen": Bob works from two devices, his laptop and his
//! phone (a second home made with `init --member-key`). The admin finds
//! the laptop with `cert list --devices` and revokes its device
//! certificate through her running node. Every node drops the laptop and
//! refuses it from then on, while Bob keeps working from the phone: what
//! he writes there reaches Carol, and what Carol writes reaches him.

use outpost_tests::cluster::{
    TIMEOUT, acme, append, converged, doc, holds_for, member, new_doc, peer_ids, wait_for_log, wait_for_peers,
};
use outpost_tests::{RunningNode, wait_until};
use serde_json::Value;
use std::time::Duration;

/// How long the laptop is watched staying out.
const STAYS_OUT: Duration = Duration::from_secs(4);

fn lists(node: &RunningNode, other: &RunningNode) -> Result<bool, String> {
    Ok(peer_ids(node)?.contains(other.peer_id()))
}

#[test]
fn a_lost_device_is_cut_off_while_its_member_works_from_another() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let phone = sb.node("b2");
    let key = bob.home().join("keys/member.key");
    phone.ok([
        "init".as_ref(),
        "--name".as_ref(),
        "b".as_ref(),
        "--member-key".as_ref(),
        key.as_os_str(),
    ]);
    phone.ok(["cert", "install", "b.cert"]);
    let id = new_doc(&admin, "Plan", &[]);

    let a = admin.up(&[]);
    let laptop = bob.up(&[a.addr()]);
    let p = phone.up(&[a.addr()]);
    let c = carol.up(&[a.addr()]);
    let all = [&a, &laptop, &p, &c];
    wait_for_peers(&a, &[&laptop, &p, &c], &all);
    append(&laptop, &id, "from-laptop\n");
    wait_until("everyone has the laptop's line", TIMEOUT, &all, || {
        converged(&all, &id, &["from-laptop"])
    });

    // The admin lists Bob's devices and revokes the laptop's certificate.
    let devices = admin.json(["cert", "list", "--devices"]);
    let bobs: Vec<&Value> = devices
        .as_array()
        .expect("cert list --devices --json prints an array")
        .iter()
        .filter(|d| d["member_name"] == "b")
        .collect();
    assert_eq!(bobs.len(), 2, "Bob has two devices: {devices}");
    let stolen = bobs
        .iter()
        .find(|d| d["device"] == laptop.peer_id())
        .unwrap_or_else(|| panic!("the laptop {} is listed: {devices}", laptop.peer_id()));
    let serial = stolen["serial"].as_str().expect("a serial").to_owned();
    admin
        .ok([
            "cert",
            "revoke",
            &serial,
            "--reason",
            "laptop stolen",
            "--out",
            "laptop.rev",
        ])
        .stdout_has("revoked certificate");
    let listed = admin.json(["cert", "list", "--devices", "--all"]);
    let row = listed
        .as_array()
        .expect("an array")
        .iter()
        .find(|d| d["serial"] == serial.as_str())
        .cloned()
        .expect("the revoked device is listed with --all");
    assert_eq!(row["status"]["state"], "revoked", "{row}");

    // Every node drops the laptop and refuses it.
    wait_for_log(&a, &["laptop stolen", laptop.peer_id()], &all);
    wait_until("no node lists the laptop", TIMEOUT, &all, || {
        for node in [&a, &p, &c] {
            if lists(node, &laptop)? {
                return Err(format!("{} still lists the laptop", node.name()));
            }
        }
        if !peer_ids(&laptop)?.is_empty() {
            return Err(format!("the laptop lists {:?}", peer_ids(&laptop)?));
        }
        Ok(())
    });

    // Bob keeps working from the phone, both ways.
    append(&p, &id, "from-phone\n");
    append(&c, &id, "from-carol\n");
    wait_until("the phone's and Carol's lines meet", TIMEOUT, &all, || {
        converged(&[&a, &p, &c], &id, &["from-laptop", "from-phone", "from-carol"])
    });
    assert!(lists(&p, &a).expect("peers"), "the phone is still admitted");

    // What the laptop writes now reaches nobody, and it hears nothing new.
    append(&laptop, &id, "from-thief\n");
    holds_for("the laptop stays cut off", STAYS_OUT, &all, || {
        for node in [&a, &p, &c] {
            let (body, _) = doc(node, &id)?;
            if body.contains("from-thief") {
                return Err(format!("{} shows the thief's line: {body:?}", node.name()));
            }
            if lists(node, &laptop)? {
                return Err(format!("{} admitted the laptop again", node.name()));
            }
        }
        let (body, _) = doc(&laptop, &id)?;
        if body.contains("from-carol") {
            return Err(format!("the laptop got Carol's line: {body:?}"));
        }
        Ok(())
    });
}
