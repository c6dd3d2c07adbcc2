//! Certificate-chain verification next to raw ed25519 verification,
//! measured in the same run.
//!
//! A "chain verification" is what a node does when a peer presents a device
//! certificate bundle: decode and signature-check every op of the chain
//! (root → admin → dept head → member → device: four signed ops), build the
//! authorisation state and evaluate the device's status. The raw floor is
//! four ed25519 verifications.
//!
//! Besides criterion's report, a summary with the ratio is printed and
//! written to `target/outpost-bench/identity.json`.

use criterion::{Criterion, Throughput, criterion_group};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use outpost_identity::request::Bundle;
use outpost_identity::{AuthState, DeptPath, DeviceCert, DeviceKey, MemberKeys, OrgRoot, Role, RoleCert, Timestamp};
use std::hint::black_box;
use std::time::{Duration, Instant};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn cert(keys: &MemberKeys, role: Role, dept: &str) -> RoleCert {
    RoleCert {
        serial: 1,
        subject: keys.public(),
        exchange: keys.exchange_public(),
        name: "bench".into(),
        email: String::new(),
        dept: DeptPath::parse(dept).expect("valid path"),
        position: String::new(),
        level: 1,
        role,
        resources: vec![],
        not_before: NOW,
        not_after: NOW.plus(86_400),
        invite: None,
    }
}

/// The encoded bundle of a device certificate and its chain.
fn device_bundle() -> (Vec<u8>, outpost_identity::PublicKey) {
    let mut rng = rand::rng();
    let root = OrgRoot::generate(&mut rng);
    let (admin, head, member) = (
        MemberKeys::generate(&mut rng),
        MemberKeys::generate(&mut rng),
        MemberKeys::generate(&mut rng),
    );
    let device = DeviceKey::generate(&mut rng);
    let mut state = AuthState::new(root.0.public());
    let steps: [(&outpost_identity::keys::Signer25519, &MemberKeys, Role, &str); 3] = [
        (&root.0, &admin, Role::Admin, ""),
        (&admin.signing, &head, Role::DeptHead, "HQ/East"),
        (&head.signing, &member, Role::Member, "HQ/East/Sales"),
    ];
    for (by, who, role, dept) in steps {
        let op = state.sign_grant(by, cert(who, role, dept), NOW).expect("valid grant");
        state.insert(op).expect("same org");
    }
    let dev = DeviceCert {
        serial: 2,
        device: device.0.public(),
        name: "d".into(),
        not_before: NOW,
        not_after: NOW.plus(86_400),
    };
    let op = state.sign_device(&member.signing, dev, NOW).expect("valid device cert");
    let id = op.id;
    state.insert(op).expect("same org");
    let bundle = Bundle::new(state.root(), "bench", Some(id), state.closure(id));
    assert_eq!(bundle.ops.len(), 4);
    (bundle.encode(), device.0.public())
}

/// Verifies a device bundle from scratch; returns whether the device is live.
fn verify_chain(bytes: &[u8], device: &outpost_identity::PublicKey) -> bool {
    let (bundle, ops) = Bundle::decode(bytes).expect("valid bundle");
    let mut state = AuthState::new(bundle.root);
    state.insert_all(ops).expect("same org");
    state.device_principal(device, NOW).is_some()
}

struct Raw {
    key: ed25519_dalek::VerifyingKey,
    msg: Vec<u8>,
    sig: ed25519_dalek::Signature,
}

fn raw() -> Raw {
    let sk = SigningKey::generate(&mut rand::rng());
    let msg = vec![7u8; 200];
    let sig = sk.sign(&msg);
    Raw {
        key: sk.verifying_key(),
        msg,
        sig,
    }
}

fn benches(c: &mut Criterion) {
    let (bundle, device) = device_bundle();
    let r = raw();
    let mut g = c.benchmark_group("identity");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_ed25519_verify", |b| {
        b.iter(|| r.key.verify(black_box(&r.msg), black_box(&r.sig)).is_ok())
    });
    g.bench_function("device_chain_verify_4_ops", |b| {
        b.iter(|| verify_chain(black_box(&bundle), &device))
    });
    g.finish();
}

/// Runs `f` repeatedly for `budget` and returns calls per second.
fn rate(budget: Duration, mut f: impl FnMut() -> bool) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            assert!(black_box(f()));
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn summary() {
    let (bundle, device) = device_bundle();
    let r = raw();
    let budget = Duration::from_millis(if std::env::args().any(|a| a == "--test") {
        20
    } else {
        1500
    });
    let raw_rate = rate(budget, || r.key.verify(&r.msg, &r.sig).is_ok());
    let chain_rate = rate(budget, || verify_chain(&bundle, &device));
    let floor = raw_rate / 4.0;
    let report = serde_json::json!({
        "scenario": "device certificate chain verification (4 signed ops)",
        "raw_ed25519_verify_per_s": raw_rate,
        "raw_floor_chains_per_s": floor,
        "chain_verify_per_s": chain_rate,
        "ratio_to_floor": chain_rate / floor,
    });
    println!(
        "identity summary: raw ed25519 verify {raw_rate:.0}/s → floor {floor:.0} chains/s; chain verify {chain_rate:.0}/s ({:.0}% of floor)",
        100.0 * chain_rate / floor
    );
    // `$CARGO_TARGET_DIR/outpost-bench`, else the workspace's `target/`.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("outpost-bench");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("identity.json"), format!("{report:#}\n"));
    }
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
