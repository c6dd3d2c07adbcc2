//! Envelopes on the product's path next to the raw primitives, measured in
//! the same run.
//!
//! The envelopes are real: an org (root → admin → member), a scope written
//! by the member's department, an epoch whose secret is wrapped to the
//! readers, and a chain of automerge changes (about 200 bytes each) sealed by
//! the member, each envelope depending on the previous one. A sample is
//! checked against the validity rule before anything is timed.
//!
//! What is measured, per envelope:
//! - **seal**: `Envelope::seal` next to raw ed25519 sign and raw
//!   XChaCha20-Poly1305 on the same sizes;
//! - **open**: `Envelope::decode` (single) and `Envelope::decode_batch`
//!   (256 at a time; each signature checked strictly, author keys
//!   decompressed once per batch), `Envelope::open`, automerge
//!   `apply_changes`, next to raw ed25519 verify (plain and strict) and
//!   `verify_batch`;
//! - **ingest**: `decode_batch` + `open` + store through the node's
//!   `Committer` (one fsync per 256 envelopes) into a redb file, next to
//!   redb's raw commit rate, durable and `Durability::None`, one row per
//!   transaction. The producer verifies the next batch while the committer
//!   thread writes the previous one (`Committer::submit`), as the node does;
//!   the process CPU time it uses gives the per-core figure. Also measured:
//!   a producer that waits for each commit, and two producers.
//!
//! The target: durable grouped ingest by one producer thread at no less
//! than 70% of the raw single-signature verify rate.
//!
//! Besides criterion's report, a summary is printed and written to
//! `target/outpost-bench/seal.json`. In test mode (`cargo bench -- --test`,
//! `cargo test --benches`) the budgets shrink so the whole run takes a few
//! seconds, and the JSON goes to `seal.test.json` instead.
//!
//! The machine is often busy with builds: figures are measured in three
//! interleaved rounds and the best of each kept, and the target's ratio is
//! also given per round against raw verify measured just before and after.

use automerge::{AutoCommit, Change, ObjType, ROOT, ReadDoc, transaction::Transactable};
use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use outpost_identity::signed::{self, Kind, SIG_LEN};
use outpost_identity::{
    AuthState, Body, DeptPath, MemberKeys, OrgRoot, Principal, Role, RoleCert, ScopeDef, Timestamp,
};
use outpost_node::committer::{Committer, Item};
use outpost_node::docs::doc_key_bytes;
use outpost_seal::envelope::{DocId, Envelope, Header, Payload};
use outpost_seal::epoch::{EpochSecret, new_epoch};
use outpost_seal::{Replica, Verdict};
use outpost_store::Store;
use redb::{Database, Durability, TableDefinition};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: Timestamp = Timestamp(1_800_000_000);
/// Envelopes per batch: one `decode_batch` call and one commit (one fsync).
const BATCH: usize = 256;
/// Characters inserted per change; gives automerge changes of about 200 bytes.
const CHARS_PER_CHANGE: usize = 90;

/// Raw redb table of the baseline: envelope id → envelope bytes.
const RAW: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("raw");

fn has_arg(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Criterion's rule: `cargo bench` passes `--bench`; `cargo test --benches`
/// passes nothing; `cargo bench -- --test` passes both. Only a plain
/// `cargo bench` gets the full budgets.
fn test_mode() -> bool {
    has_arg("--test") || !has_arg("--bench")
}

fn role_cert(keys: &MemberKeys, role: Role, dept: &str) -> RoleCert {
    RoleCert {
        serial: 1,
        subject: keys.public(),
        exchange: keys.exchange_public(),
        name: format!("bench {role}"),
        email: String::new(),
        dept: DeptPath::parse(dept).expect("valid path"),
        position: String::new(),
        level: 1,
        role,
        resources: vec![],
        not_before: T0,
        not_after: T0.plus(365 * 86_400),
        invite: None,
    }
}

/// An org with one writable scope and its first epoch; the member writes.
struct Org {
    auth: AuthState,
    member: MemberKeys,
    secret: EpochSecret,
    /// The member's header with `deps` empty and a zero nonce.
    header: Header,
}

fn org() -> Org {
    let mut rng = rand::rng();
    let root = OrgRoot::generate(&mut rng);
    let admin = MemberKeys::generate(&mut rng);
    let member = MemberKeys::generate(&mut rng);
    let mut auth = AuthState::new(root.0.public());
    let add = |auth: &mut AuthState, op: outpost_identity::SignedOp| {
        let id = op.id;
        auth.insert(op).expect("same org");
        id
    };
    let grant = auth
        .sign_grant(&root.0, role_cert(&admin, Role::Admin, ""), T0)
        .expect("root grants an admin");
    add(&mut auth, grant);
    let grant = auth
        .sign_grant(&admin.signing, role_cert(&member, Role::Member, "HQ/Mkt"), T0)
        .expect("admin grants a member");
    let cert = add(&mut auth, grant);
    let def = ScopeDef {
        name: "Bench".into(),
        readers: vec![Principal::Role(Role::Admin)],
        writers: vec![Principal::Dept(DeptPath::parse("HQ/Mkt").expect("valid path"))],
        nonce: 1,
    };
    let op = auth
        .sign_body(&admin.signing, Body::Scope(def), T0)
        .expect("admin defines a scope");
    let scope = add(&mut auth, op);
    let readers = [
        (admin.public(), admin.exchange_public()),
        (member.public(), member.exchange_public()),
    ];
    let (rekey, secret) = new_epoch(scope, &readers, &[], &mut rng);
    let op = auth
        .sign_body(&admin.signing, Body::Rekey(rekey), T0)
        .expect("admin starts an epoch");
    let epoch = add(&mut auth, op);
    let header = Header {
        doc: DocId::generate(&mut rng),
        scope,
        author: member.public(),
        cert,
        deps: vec![],
        auth_heads: auth.heads(),
        epoch,
        time: T0.plus(60),
        nonce: [0; 24],
    };
    Org {
        auth,
        member,
        secret,
        header,
    }
}

/// A chain of `n` automerge changes, each appending a line of text.
fn changes(n: usize) -> Vec<Vec<u8>> {
    let mut doc = AutoCommit::new();
    let text = doc.put_object(ROOT, "text", ObjType::Text).expect("fresh doc");
    doc.commit();
    let mut out = vec![
        doc.get_last_local_change()
            .expect("just committed")
            .raw_bytes()
            .to_vec(),
    ];
    let line: String = "The quick brown fox jumps over the lazy dog. ".repeat(3)[..CHARS_PER_CHANGE].into();
    while out.len() < n {
        let len = doc.length(&text);
        doc.splice_text(&text, len, 0, &line).expect("append");
        doc.commit();
        out.push(
            doc.get_last_local_change()
                .expect("just committed")
                .raw_bytes()
                .to_vec(),
        );
    }
    out
}

/// Seals `changes` in order, each envelope following the previous one.
fn seal_chain(org: &Org, changes: &[Vec<u8>]) -> Vec<Envelope> {
    let mut rng = rand::rng();
    let mut out: Vec<Envelope> = Vec::with_capacity(changes.len());
    for c in changes {
        let mut header = org.header.clone();
        header.deps = out.last().map(|e| vec![e.id]).unwrap_or_default();
        out.push(Envelope::seal(
            header,
            &Payload::Change(c.clone()),
            &org.secret,
            &org.member.signing,
            &mut rng,
        ));
    }
    out
}

/// Asserts that the validity rule accepts the first envelopes: the bench
/// measures envelopes a peer would keep.
fn check_valid(org: &Org, envs: &[Envelope]) {
    let mut replica = Replica::with_state(org.auth.clone());
    for e in envs.iter().take(64) {
        replica.insert_envelope(e.clone());
    }
    replica.refresh();
    for e in envs.iter().take(64) {
        assert_eq!(
            replica.verdict(&e.id),
            Some(&Verdict::Valid),
            "bench envelopes are valid"
        );
    }
}

/// Everything the benches share.
struct Fixture {
    org: Org,
    changes: Vec<Vec<u8>>,
    envs: Vec<Envelope>,
    /// Per envelope: the message its signature covers, and the signature.
    signed: Vec<(Vec<u8>, Signature)>,
    author: VerifyingKey,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let org = org();
        let changes = changes(n);
        let envs = seal_chain(&org, &changes);
        check_valid(&org, &envs);
        let signed = envs
            .iter()
            .map(|e| {
                let (unsigned, sig) = e.bytes.split_at(e.bytes.len() - SIG_LEN);
                (
                    signed::signing_message(Kind::Envelope, unsigned),
                    Signature::from_slice(sig).expect("64 bytes"),
                )
            })
            .collect();
        let author = org.member.public().verifying_key().expect("a valid key");
        Fixture {
            org,
            changes,
            envs,
            signed,
            author,
        }
    }

    fn batches(&self) -> Vec<Vec<&[u8]>> {
        self.envs
            .chunks(BATCH)
            .map(|c| c.iter().map(|e| e.bytes.as_slice()).collect())
            .collect()
    }

    fn payload_len(&self) -> usize {
        self.changes.iter().map(Vec::len).sum::<usize>() / self.changes.len()
    }

    fn envelope_len(&self) -> usize {
        self.envs.iter().map(|e| e.bytes.len()).sum::<usize>() / self.envs.len()
    }
}

/// The primitives alone, on the fixture's sizes.
struct Raw {
    sk: SigningKey,
    sign_msg: Vec<u8>,
    cipher: XChaCha20Poly1305,
    plaintext: Vec<u8>,
    aad: Vec<u8>,
}

impl Raw {
    fn new(f: &Fixture) -> Raw {
        let sk = SigningKey::generate(&mut rand::rng());
        let sign_msg = f.signed[1].0.clone();
        let plaintext = vec![7u8; f.payload_len() + 3]; // postcard's enum tag and length
        let aad = postcard::to_stdvec(&f.envs[1].header).expect("plain data");
        Raw {
            sk,
            sign_msg,
            cipher: XChaCha20Poly1305::new(&[9u8; 32].into()),
            plaintext,
            aad,
        }
    }

    fn sign(&self) -> Signature {
        self.sk.sign(&self.sign_msg)
    }

    fn encrypt(&self) -> Vec<u8> {
        self.cipher
            .encrypt(
                &XNonce::from([3u8; 24]),
                AeadPayload {
                    msg: &self.plaintext,
                    aad: &self.aad,
                },
            )
            .expect("short message")
    }
}

fn verify_batch(f: &Fixture, range: std::ops::Range<usize>) -> bool {
    let msgs: Vec<&[u8]> = f.signed[range.clone()].iter().map(|(m, _)| m.as_slice()).collect();
    let sigs: Vec<Signature> = f.signed[range.clone()].iter().map(|(_, s)| *s).collect();
    let keys = vec![f.author; range.len()];
    ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
}

/// The receive path up to the document: batch decode, open, apply.
fn open_and_apply(batch: &[&[u8]], secret: &EpochSecret, doc: &mut AutoCommit) {
    let mut changes = Vec::with_capacity(batch.len());
    for env in Envelope::decode_batch(batch) {
        let env = env.expect("valid envelope");
        let Payload::Change(bytes) = env.open(secret).expect("our key") else {
            panic!("bench envelopes carry changes")
        };
        changes.push(Change::from_bytes(bytes).expect("a valid change"));
    }
    doc.apply_changes(changes).expect("changes apply");
}

/// The first half of ingest: batch decode (signatures checked) and open;
/// returns what the committer stores.
fn open_batch(batch: &[&[u8]], secret: &EpochSecret) -> Vec<Item> {
    Envelope::decode_batch(batch)
        .into_iter()
        .map(|env| {
            let env = env.expect("valid envelope");
            let payload = env.open(secret).expect("our key");
            black_box(payload);
            (doc_key_bytes(&(env.header.scope, env.header.doc)), env.id.0, env.bytes)
        })
        .collect()
}

/// The ingest path: batch decode, open, then store durably through the
/// committer. Returns after the fsync.
fn ingest(batch: &[&[u8]], secret: &EpochSecret, committer: &Committer) {
    committer.commit(open_batch(batch, secret)).expect("stored");
}

/// A fresh store in a temporary directory, with its committer.
struct FreshStore {
    committer: Option<Committer>,
    thread: Option<outpost_node::committer::CommitterThread>,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
}

impl FreshStore {
    fn new() -> FreshStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("bench.redb")).expect("new store"));
        let (committer, thread) = Committer::start(store.clone());
        FreshStore {
            committer: Some(committer),
            thread: Some(thread),
            store,
            _dir: dir,
        }
    }

    fn committer(&self) -> &Committer {
        self.committer.as_ref().expect("set until dropped")
    }

    /// Stops the committer and returns how many envelopes are stored.
    fn finish(mut self) -> u64 {
        drop(self.committer.take());
        drop(self.thread.take());
        self.store.envelope_count().expect("count")
    }
}

/// A raw redb database in a temporary directory.
fn raw_db() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::create(dir.path().join("raw.redb")).expect("new database");
    (dir, db)
}

/// Writes one row in its own transaction.
fn raw_commit(db: &Database, durability: Durability, key: u64, value: &[u8]) {
    let mut tx = db.begin_write().expect("write txn");
    tx.set_durability(durability).expect("no persistent savepoints");
    {
        let mut t = tx.open_table(RAW).expect("table");
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&key.to_be_bytes());
        t.insert(&k, value).expect("insert");
    }
    tx.commit().expect("commit");
}

/// Stores every batch straight through `Store::put_envelopes` (no
/// committer, no verification) into a fresh store: the store stage alone.
fn store_pass(items: &[Vec<Item>]) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.redb")).expect("new store");
    let start = Instant::now();
    for batch in items {
        store
            .put_envelopes(batch.iter().map(|(d, id, b)| (d, id, b.as_slice())))
            .expect("stored");
    }
    start.elapsed()
}

/// Raw redb, grouped: every envelope (keyed by its id) into a fresh
/// database, one durable transaction per batch.
fn raw_grouped_pass(envs: &[Envelope]) -> Duration {
    let (_dir, db) = raw_db();
    let start = Instant::now();
    for batch in envs.chunks(BATCH) {
        let tx = db.begin_write().expect("write txn");
        {
            let mut t = tx.open_table(RAW).expect("table");
            for e in batch {
                t.insert(&e.id.0, e.bytes.as_slice()).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    start.elapsed()
}

/// Durable ingest of every batch by `producers` threads sharing one
/// committer. Returns the time from the first batch to the last fsync.
fn ingest_pass(batches: &[Vec<&[u8]>], secret: &EpochSecret, producers: usize) -> Duration {
    let store = FreshStore::new();
    let start = Instant::now();
    std::thread::scope(|s| {
        for p in 0..producers {
            let committer = store.committer();
            s.spawn(move || {
                for b in batches.iter().skip(p).step_by(producers) {
                    ingest(b, secret, committer);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let n: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(store.finish(), n as u64, "every envelope stored");
    elapsed
}

/// Durable ingest by one producer thread the way the node ingests: it hands
/// each verified batch to the committer with [`Committer::submit`] and
/// verifies the next one while the committer thread writes it, waiting for
/// a batch's receipt before submitting the one after (at most two batches
/// in flight). Returns the time from the first batch to the last fsync.
fn ingest_pass_overlapped(batches: &[Vec<&[u8]>], secret: &EpochSecret) -> Duration {
    let store = FreshStore::new();
    let start = Instant::now();
    let committer = store.committer();
    let mut in_flight: Option<outpost_node::committer::Receipt> = None;
    for b in batches {
        let items = open_batch(b, secret);
        if let Some(receipt) = in_flight.take() {
            receipt.wait().expect("stored");
        }
        in_flight = Some(committer.submit(items).expect("the committer runs"));
    }
    if let Some(receipt) = in_flight {
        receipt.wait().expect("stored");
    }
    let elapsed = start.elapsed();
    let n: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(store.finish(), n as u64, "every envelope stored");
    elapsed
}

fn criterion_benches(c: &mut Criterion) {
    let f = Fixture::new(if test_mode() { 2 * BATCH } else { 8 * BATCH });
    let raw = Raw::new(&f);
    let batches = f.batches();
    let secret = &f.org.secret;

    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_ed25519_sign", |b| b.iter(|| black_box(raw.sign())));
    g.throughput(Throughput::Bytes(raw.plaintext.len() as u64));
    g.bench_function("raw_xchacha20poly1305_encrypt", |b| b.iter(|| black_box(raw.encrypt())));
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("envelope_seal", |b| {
        let mut rng = rand::rng();
        b.iter_batched(
            || {
                i = (i + 1) % f.changes.len();
                (f.org.header.clone(), Payload::Change(f.changes[i].clone()))
            },
            |(header, payload)| Envelope::seal(header, &payload, secret, &f.org.member.signing, &mut rng),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("open");
    g.throughput(Throughput::Elements(1));
    let (msg, sig) = &f.signed[1];
    g.bench_function("raw_ed25519_verify", |b| {
        b.iter(|| f.author.verify(black_box(msg), sig).is_ok())
    });
    g.bench_function("envelope_decode", |b| {
        b.iter(|| Envelope::decode(black_box(&f.envs[1].bytes)).is_ok())
    });
    g.bench_function("envelope_open", |b| b.iter(|| f.envs[1].open(secret).is_ok()));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("raw_ed25519_verify_batch_256", |b| {
        b.iter(|| verify_batch(&f, 0..BATCH))
    });
    g.bench_function("envelope_decode_batch_256", |b| {
        b.iter(|| Envelope::decode_batch(black_box(&batches[0])))
    });
    g.bench_function("decode_batch_open_apply_256", |b| {
        // Changes apply in order: each pass over the chain starts from an
        // empty document, made outside the timing.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut doc = AutoCommit::new();
            for k in 0..iters as usize {
                let j = k % batches.len();
                if j == 0 {
                    doc = AutoCommit::new();
                }
                let start = Instant::now();
                open_and_apply(&batches[j], secret, &mut doc);
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();

    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    let value = f.envs[1].bytes.clone();
    for (name, durability) in [
        ("raw_redb_commit_1_row_durable", Durability::Immediate),
        ("raw_redb_commit_1_row_none", Durability::None),
    ] {
        let (_dir, db) = raw_db();
        let mut key = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                key += 1;
                raw_commit(&db, durability, key, &value)
            })
        });
    }
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ingest_durable_batch_256", |b| {
        // A fresh store for each pass over the envelopes, so every write is
        // new; opening it is not timed.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut store = FreshStore::new();
            for k in 0..iters as usize {
                let j = k % batches.len();
                if j == 0 && k > 0 {
                    store.finish();
                    store = FreshStore::new();
                }
                let start = Instant::now();
                ingest(&batches[j], secret, store.committer());
                total += start.elapsed();
            }
            store.finish();
            total
        })
    });
    g.finish();
}

/// Runs `f` (which handles `per_call` envelopes) for about `budget`;
/// returns envelopes per second.
fn rate(budget: Duration, per_call: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += per_call as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Like [`rate`] for `f` that times itself (to leave its setup out).
fn rate_timed(budget: Duration, mut f: impl FnMut() -> (usize, Duration)) -> f64 {
    let (mut n, mut spent) = (0usize, Duration::ZERO);
    while spent < budget {
        let (k, d) = f();
        n += k;
        spent += d;
    }
    n as f64 / spent.as_secs_f64()
}

/// One measurement of every figure, envelopes (or changes) per second.
#[derive(Default)]
struct Round {
    raw_sign: f64,
    raw_aead: f64,
    seal: f64,
    raw_verify: f64,
    raw_verify_strict: f64,
    raw_verify_batch: f64,
    decode: f64,
    decode_batch: f64,
    open: f64,
    apply: f64,
    apply_batch: f64,
    open_path: f64,
    redb_durable: f64,
    redb_none: f64,
    open_batch: f64,
    store_put: f64,
    raw_grouped: f64,
    /// One producer, overlapped with the committer (the node's way).
    ingest_1: f64,
    /// Envelopes per second of process CPU time (all threads) during `ingest_1`.
    ingest_1_per_cpu_s: f64,
    /// Raw verify measured just before and after `ingest_1` (mean).
    raw_verify_adjacent: f64,
    /// One producer waiting for each commit before verifying the next batch.
    ingest_serial: f64,
    ingest_2: f64,
}

/// CPU time used by this process so far (all threads), from
/// `/proc/self/stat`; `None` where that file does not exist.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces): utime and
    // stime are the 12th and 13th, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn measure(f: &Fixture, raw: &Raw, decoded: &[Change], budget: Duration) -> Round {
    let batches = f.batches();
    let secret = &f.org.secret;
    let n = f.envs.len();
    let mut rng = rand::rng();
    let mut r = Round {
        raw_sign: rate(budget, 1, || {
            black_box(raw.sign());
        }),
        raw_aead: rate(budget, 1, || {
            black_box(raw.encrypt());
        }),
        ..Round::default()
    };
    let mut i = 0;
    r.seal = rate(budget, 1, || {
        i = (i + 1) % n;
        black_box(Envelope::seal(
            f.org.header.clone(),
            &Payload::Change(f.changes[i].clone()),
            secret,
            &f.org.member.signing,
            &mut rng,
        ));
    });

    let mut i = 0;
    r.raw_verify = rate(budget, 1, || {
        i = (i + 1) % n;
        let (m, s) = &f.signed[i];
        assert!(f.author.verify(black_box(m), s).is_ok());
    });
    let mut i = 0;
    r.raw_verify_strict = rate(budget, 1, || {
        i = (i + 1) % n;
        let (m, s) = &f.signed[i];
        assert!(f.author.verify_strict(black_box(m), s).is_ok());
    });
    let mut j = 0;
    r.raw_verify_batch = rate(budget, BATCH, || {
        j = (j + 1) % batches.len();
        assert!(verify_batch(f, j * BATCH..(j + 1) * BATCH));
    });
    let mut i = 0;
    r.decode = rate(budget, 1, || {
        i = (i + 1) % n;
        assert!(Envelope::decode(black_box(&f.envs[i].bytes)).is_ok());
    });
    let mut j = 0;
    r.decode_batch = rate(budget, BATCH, || {
        j = (j + 1) % batches.len();
        assert!(Envelope::decode_batch(&batches[j]).iter().all(Result::is_ok));
    });
    let mut i = 0;
    r.open = rate(budget, 1, || {
        i = (i + 1) % n;
        assert!(f.envs[i].open(secret).is_ok());
    });
    r.apply = rate_timed(budget, || {
        let mut doc = AutoCommit::new();
        let start = Instant::now();
        for chunk in decoded.chunks(BATCH) {
            doc.apply_changes(chunk.to_vec()).expect("changes apply");
        }
        (n, start.elapsed())
    });
    r.apply_batch = rate_timed(budget, || {
        let mut doc = AutoCommit::new();
        let start = Instant::now();
        for chunk in decoded.chunks(BATCH) {
            doc.apply_changes_batch(chunk.to_vec()).expect("changes apply");
        }
        (n, start.elapsed())
    });
    r.open_path = rate_timed(budget, || {
        let mut doc = AutoCommit::new();
        let start = Instant::now();
        for b in &batches {
            open_and_apply(b, secret, &mut doc);
        }
        let elapsed = start.elapsed();
        assert_eq!(doc.get_changes(&[]).len(), n, "every change applied");
        (n, elapsed)
    });

    let value = &f.envs[1].bytes;
    for (out, durability) in [
        (&mut r.redb_durable, Durability::Immediate),
        (&mut r.redb_none, Durability::None),
    ] {
        let (_dir, db) = raw_db();
        let mut key = 0;
        *out = rate(budget, 1, || {
            key += 1;
            raw_commit(&db, durability, key, value);
        });
    }
    let mut j = 0;
    r.open_batch = rate(budget, BATCH, || {
        j = (j + 1) % batches.len();
        black_box(open_batch(&batches[j], secret));
    });
    let items: Vec<Vec<Item>> = batches.iter().map(|b| open_batch(b, secret)).collect();
    r.store_put = rate_timed(budget, || (n, store_pass(&items)));
    r.raw_grouped = rate_timed(budget, || (n, raw_grouped_pass(&f.envs)));
    let raw_verify_once = |budget| {
        let mut i = 0;
        rate(budget, 1, || {
            i = (i + 1) % n;
            let (m, s) = &f.signed[i];
            assert!(f.author.verify(black_box(m), s).is_ok());
        })
    };
    let before = raw_verify_once(budget / 2);
    let (cpu_before, passes) = (process_cpu_time(), std::cell::Cell::new(0usize));
    r.ingest_1 = rate_timed(budget, || {
        passes.set(passes.get() + n);
        (n, ingest_pass_overlapped(&batches, secret))
    });
    if let (Some(a), Some(b)) = (cpu_before, process_cpu_time()) {
        // Includes the fresh stores' setup, so it errs on the low side.
        r.ingest_1_per_cpu_s = passes.get() as f64 / (b - a).as_secs_f64().max(1e-3);
    }
    let after = raw_verify_once(budget / 2);
    r.raw_verify_adjacent = (before + after) / 2.0;
    // The headline ratio divides by the best raw figure seen.
    r.raw_verify = r.raw_verify.max(before).max(after);
    r.ingest_serial = rate_timed(budget, || (n, ingest_pass(&batches, secret, 1)));
    r.ingest_2 = rate_timed(budget, || (n, ingest_pass(&batches, secret, 2)));
    r
}

fn summary() {
    let test = test_mode();
    // Figures are measured in interleaved rounds and the best of each kept:
    // load from other processes then hits the raw and the Outpost figures
    // alike instead of whichever ran at the wrong moment.
    let (rounds, budget) = if test { (1, 20) } else { (3, 350) };
    let budget = Duration::from_millis(budget);
    let f = Fixture::new(if test { 2 * BATCH } else { 16 * BATCH });
    let raw = Raw::new(&f);
    let decoded: Vec<Change> = f
        .changes
        .iter()
        .map(|c| Change::from_bytes(c.clone()).expect("valid change"))
        .collect();
    let rounds: Vec<Round> = (0..rounds).map(|_| measure(&f, &raw, &decoded, budget)).collect();
    let best = |g: fn(&Round) -> f64| rounds.iter().map(g).fold(0.0, f64::max);
    let (raw_sign, raw_aead, seal) = (best(|r| r.raw_sign), best(|r| r.raw_aead), best(|r| r.seal));
    let (raw_verify, raw_verify_strict, raw_verify_batch) = (
        best(|r| r.raw_verify),
        best(|r| r.raw_verify_strict),
        best(|r| r.raw_verify_batch),
    );
    let (decode, decode_batch, open) = (best(|r| r.decode), best(|r| r.decode_batch), best(|r| r.open));
    let (apply, apply_batch, open_path) = (best(|r| r.apply), best(|r| r.apply_batch), best(|r| r.open_path));
    let (redb_durable, redb_none) = (best(|r| r.redb_durable), best(|r| r.redb_none));
    let (open_batch, store_put, raw_grouped) = (best(|r| r.open_batch), best(|r| r.store_put), best(|r| r.raw_grouped));
    let (ingest_1, ingest_serial, ingest_2) = (best(|r| r.ingest_1), best(|r| r.ingest_serial), best(|r| r.ingest_2));
    let ingest_1_per_cpu_s = best(|r| r.ingest_1_per_cpu_s);
    let seal_floor = 1.0 / (1.0 / raw_sign + 1.0 / raw_aead);
    let aead_mb = raw_aead * raw.plaintext.len() as f64 / 1e6;
    let n = f.envs.len();

    let target_ratio = ingest_1 / raw_verify;
    let per_round: Vec<f64> = rounds.iter().map(|r| r.ingest_1 / r.raw_verify_adjacent).collect();
    let met = target_ratio >= 0.70;
    let report = serde_json::json!({
        "mode": if test { "test (tiny budgets; not figures to quote)" } else { "bench" },
        "scenario": "envelopes of ~200-byte automerge changes: seal; decode + verify + open + apply; durable grouped ingest",
        "envelopes": n,
        "payload_bytes_mean": f.payload_len(),
        "envelope_bytes_mean": f.envelope_len(),
        "batch": BATCH,
        "rounds": rounds.len(),
        "figures": "best of the rounds, per second, one thread unless stated",
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "seal": {
            "raw_ed25519_sign_per_s": raw_sign,
            "raw_xchacha20poly1305_encrypt_per_s": raw_aead,
            "raw_xchacha20poly1305_encrypt_mb_per_s": aead_mb,
            "raw_floor_per_s": seal_floor,
            "envelope_seal_per_s": seal,
            "ratio_to_floor": seal / seal_floor,
        },
        "open": {
            "raw_ed25519_verify_per_s": raw_verify,
            "raw_ed25519_verify_strict_per_s": raw_verify_strict,
            "raw_ed25519_verify_batch_256_per_s": raw_verify_batch,
            "envelope_decode_per_s": decode,
            "envelope_decode_batch_256_per_s": decode_batch,
            "envelope_open_per_s": open,
            "automerge_apply_changes_per_s": apply,
            "automerge_apply_changes_batch_per_s": apply_batch,
            "decode_batch_open_apply_per_s": open_path,
            "decode_ratio_to_raw_verify": decode / raw_verify,
            "decode_batch_ratio_to_raw_verify": decode_batch / raw_verify,
            "decode_batch_ratio_to_raw_verify_batch": decode_batch / raw_verify_batch,
        },
        "store": {
            "raw_redb_commit_1_row_durable_per_s": redb_durable,
            "raw_redb_commit_1_row_none_per_s": redb_none,
            "raw_redb_grouped_256_rows_durable_per_s": raw_grouped,
            "store_put_envelopes_256_durable_per_s": store_put,
            "stage_decode_batch_open_per_s": open_batch,
            "ingest_durable_batch_256_1_producer_per_s": ingest_1,
            "ingest_1_producer_note": "one thread decodes, verifies and opens; it submits each batch to the committer thread and verifies the next while the batch is written (Committer::submit; at most two batches in flight)",
            "ingest_durable_batch_256_1_producer_per_cpu_s": ingest_1_per_cpu_s,
            "ingest_per_cpu_s_note": "envelopes per second of process CPU time (producer + committer threads), from /proc/self/stat: the per-core figure",
            "ingest_durable_batch_256_serial_per_s": ingest_serial,
            "ingest_serial_note": "one thread that waits for each commit before verifying the next batch",
            "ingest_durable_batch_256_2_producers_per_s": ingest_2,
            "ingest_ratio_to_raw_durable_commit": ingest_1 / redb_durable,
        },
        "target": {
            "statement": "opening (verify + decrypt + store, durable, grouped) at no less than 70% of the raw single-signature verify rate",
            "measured": "ingest_durable_batch_256_1_producer_per_s / raw_ed25519_verify_per_s",
            "ratio": target_ratio,
            "ratio_per_round": per_round,
            "ratio_per_round_note": "each round: ingest over the mean of raw verify measured just before and just after it",
            "required": 0.70,
            "met": met,
            "ratio_per_cpu_core": ingest_1_per_cpu_s / raw_verify,
            "ratio_per_cpu_core_note": "ingest per CPU-second over raw verify (one core)",
            "met_per_cpu_core": ingest_1_per_cpu_s / raw_verify >= 0.70,
        },
    });
    println!(
        "seal summary ({n} envelopes, payload {} B, envelope {} B; best of {} rounds, one thread unless stated):",
        f.payload_len(),
        f.envelope_len(),
        rounds.len()
    );
    println!(
        "  seal    {seal:>7.0}/s | raw sign {raw_sign:.0}/s, raw XChaCha20-Poly1305 {raw_aead:.0}/s ({aead_mb:.0} MB/s) → floor {seal_floor:.0}/s; {:.0}% of floor",
        100.0 * seal / seal_floor
    );
    println!(
        "  decode  {decode:>7.0}/s single, {decode_batch:.0}/s batched | raw verify {raw_verify:.0}/s (strict {raw_verify_strict:.0}/s), raw verify_batch {raw_verify_batch:.0}/s"
    );
    println!(
        "  open    {open:>7.0}/s | automerge apply_changes {apply:.0}/s (apply_changes_batch {apply_batch:.0}/s) | decode_batch + open + apply {open_path:.0}/s"
    );
    println!(
        "  stages  decode_batch + open {open_batch:.0}/s; Store::put_envelopes, 256 per durable txn {store_put:.0}/s | raw redb 256 rows per durable txn {raw_grouped:.0}/s"
    );
    println!(
        "  ingest  {ingest_1:>7.0}/s durable, {BATCH} per commit, 1 producer overlapped with the committer ({ingest_1_per_cpu_s:.0} per CPU-second; {ingest_serial:.0}/s waiting for each commit; {ingest_2:.0}/s with 2 producers) | raw redb 1 row/txn: durable {redb_durable:.0}/s, none {redb_none:.0}/s"
    );
    let rounds_pct: Vec<String> = per_round.iter().map(|r| format!("{:.0}%", 100.0 * r)).collect();
    println!(
        "  target: durable grouped ingest ≥ 70% of raw single verify: {:.0}% (rounds: {}; per CPU-core {:.0}%) → {}",
        100.0 * target_ratio,
        rounds_pct.join(", "),
        100.0 * ingest_1_per_cpu_s / raw_verify,
        if met { "MET" } else { "NOT MET" }
    );
    // `$CARGO_TARGET_DIR/outpost-bench`, else the workspace's `target/`.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("outpost-bench");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join(if test { "seal.test.json" } else { "seal.json" }),
            format!("{report:#}\n"),
        );
    }
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = criterion_benches
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    if !has_arg("--list") {
        summary();
    }
}
