use super::*;
use crate::message::Bytes;
use crate::view::{Filtered, MemView};
use proptest::prelude::*;

type Policy<'a> = &'a dyn Fn(&DocKey) -> bool;

fn everything(_: &DocKey) -> bool {
    true
}

/// The result of one session run to its end.
#[derive(Debug)]
struct Run {
    initiator: Stats,
    responder: Stats,
    /// Every message, in order, as (from initiator, message).
    wire: Vec<(bool, Message)>,
}

/// Performs outputs on `view`; returns the messages to send.
fn perform(view: &mut MemView, outputs: Vec<Output>, end: &mut Option<Result<Stats, Failure>>) -> Vec<Message> {
    let mut sends = Vec::new();
    for output in outputs {
        match output {
            Output::Send(m) => sends.push(m),
            Output::Deliver(item) => {
                view.insert(item).expect("delivered only after its dependencies");
            }
            Output::Done(stats) => *end = Some(Ok(stats)),
            Output::Failed(f) => *end = Some(Err(f)),
        }
    }
    sends
}

/// Runs a session from `a` (initiator) to `b`, each serving the other what
/// its policy allows, with no loss.
fn run_with(a: &mut MemView, b: &mut MemView, config: &Config, a_serves: Policy, b_serves: Policy, salt: u8) -> Run {
    let now = Time(0);
    let (mut end_a, mut end_b) = (None, None);
    let (mut initiator, outputs) = Session::initiate(&Filtered::new(&*a, a_serves), config.clone(), [salt; 16], now);
    let mut responder = Session::accept(config.clone(), now);
    let mut requests = perform(a, outputs, &mut end_a);
    let mut wire = Vec::new();
    while let Some(request) = requests.pop() {
        let bytes = request.encode();
        assert!(bytes.len() <= config.frame_bytes_max);
        wire.push((true, request));
        let outputs = responder.handle_bytes(&Filtered::new(&*b, b_serves), &bytes, now);
        for response in perform(b, outputs, &mut end_b) {
            let bytes = response.encode();
            assert!(bytes.len() <= config.frame_bytes_max);
            wire.push((false, response));
            let outputs = initiator.handle_bytes(&Filtered::new(&*a, a_serves), &bytes, now);
            requests.extend(perform(a, outputs, &mut end_a));
        }
    }
    let initiator = end_a.expect("the initiator ended").expect("the initiator succeeded");
    let responder = end_b.expect("the responder ended").expect("the responder succeeded");
    Run {
        initiator,
        responder,
        wire,
    }
}

fn run(a: &mut MemView, b: &mut MemView) -> Run {
    run_with(a, b, &Config::default(), &everything, &everything, 1)
}

fn doc(n: u8) -> DocKey {
    DocKey::new([n; 32], [n; 16])
}

/// A chain of `len` envelopes in `doc`, each 100 bytes.
fn chain(view: &mut MemView, doc: DocKey, from: usize, len: usize) {
    let mut deps = view.heads(&doc);
    for i in from..from + len {
        let mut bytes = format!("{doc:?}/{i}").into_bytes();
        bytes.resize(100, b'.');
        deps = vec![view.insert_envelope(doc, deps, bytes).unwrap()];
    }
}

fn same(a: &MemView, b: &MemView) -> bool {
    a.op_id_set() == b.op_id_set() && a.envelope_id_set() == b.envelope_id_set()
}

#[test]
fn empty_nodes_agree_in_one_round_trip() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    let r = run(&mut a, &mut b);
    assert_eq!(r.initiator.round_trips, 1);
    assert_eq!(r.wire.len(), 2);
    assert!(r.initiator.bytes_sent + r.responder.bytes_sent < 120, "{r:?}");
}

#[test]
fn equal_nodes_agree_in_one_round_trip() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..50 {
        chain(&mut a, doc(n), 0, 5);
        chain(&mut b, doc(n), 0, 5);
    }
    let r = run(&mut a, &mut b);
    assert_eq!(r.initiator.round_trips, 1);
    assert_eq!(r.initiator.envelopes_sent + r.responder.envelopes_sent, 0);
}

#[test]
fn a_fresh_initiator_gets_everything_in_one_round_trip() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..40 {
        chain(&mut b, doc(n), 0, 10);
    }
    let op = b.insert_op(vec![], b"root".to_vec()).unwrap();
    b.insert_op(vec![op], b"grant".to_vec()).unwrap();
    let r = run(&mut a, &mut b);
    assert!(same(&a, &b));
    assert_eq!(r.initiator.round_trips, 1);
    assert_eq!(r.initiator.envelopes_delivered, 400);
    assert_eq!(r.initiator.ops_delivered, 2);
    assert_eq!(r.initiator.items_redundant, 0);
}

#[test]
fn a_fresh_responder_gets_everything() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..40 {
        chain(&mut a, doc(n), 0, 10);
    }
    let r = run(&mut a, &mut b);
    assert!(same(&a, &b));
    assert_eq!(r.responder.envelopes_delivered, 400);
    assert!(r.initiator.round_trips <= 2, "{r:?}");
}

#[test]
fn lagging_documents_are_sent_exactly_their_missing_envelopes() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..100 {
        chain(&mut a, doc(n), 0, 20);
        chain(&mut b, doc(n), 0, 20);
    }
    for n in [3, 50, 97] {
        chain(&mut a, doc(n), 20, 2); // the initiator is ahead
    }
    for n in [10, 60] {
        chain(&mut b, doc(n), 20, 3); // the responder is ahead
    }
    let r = run(&mut a, &mut b);
    assert!(same(&a, &b));
    assert_eq!(r.initiator.envelopes_sent, 6);
    assert_eq!(r.responder.envelopes_sent, 6);
    assert_eq!(r.initiator.items_redundant + r.responder.items_redundant, 0);
    assert!(r.initiator.round_trips <= 3, "{r:?}");
    assert_eq!(r.initiator.docs_ranged + r.responder.docs_ranged, 0);
}

#[test]
fn concurrent_writes_reconcile_the_documents_envelopes() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..20 {
        chain(&mut a, doc(n), 0, 50);
        chain(&mut b, doc(n), 0, 50);
    }
    chain(&mut a, doc(7), 50, 3);
    chain(&mut b, doc(7), 100, 4);
    let r = run(&mut a, &mut b);
    assert!(same(&a, &b));
    assert_eq!(a.heads(&doc(7)).len(), 2);
    assert_eq!(r.initiator.docs_ranged + r.responder.docs_ranged, 1);
    assert_eq!(r.initiator.envelopes_sent, 3);
    assert_eq!(r.responder.envelopes_sent, 4);
}

#[test]
fn documents_with_too_many_heads_are_reconciled_by_ranges() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    // 300 concurrent roots: more heads than a Heads part may carry.
    for i in 0..300u32 {
        let bytes = format!("root {i}").into_bytes();
        a.insert_envelope(doc(1), vec![], bytes.clone()).unwrap();
        if i % 3 == 0 {
            b.insert_envelope(doc(1), vec![], bytes).unwrap();
        }
    }
    b.insert_envelope(doc(1), vec![], b"only b".to_vec()).unwrap();
    for (x, y) in [(&a, &b), (&b, &a)] {
        let (mut x2, mut y2) = (x.clone(), y.clone());
        let r = run(&mut x2, &mut y2);
        assert!(same(&x2, &y2));
        assert_eq!(x2.envelope_count(), 301);
        assert!(r.initiator.docs_ranged + r.responder.docs_ranged >= 1);
        assert_eq!(r.initiator.items_redundant + r.responder.items_redundant, 0);
    }
}

#[test]
fn ops_arrive_after_their_dependencies() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    let mut last = a.insert_op(vec![], b"root".to_vec()).unwrap();
    b.insert_op(vec![], b"root".to_vec()).unwrap();
    for i in 0..200 {
        last = a.insert_op(vec![last], format!("op {i}").into_bytes()).unwrap();
    }
    // `perform` refuses any item before its dependencies.
    let r = run(&mut a, &mut b);
    assert!(same(&a, &b));
    assert_eq!(r.responder.ops_delivered, 200);
}

#[test]
fn a_peer_is_never_sent_documents_it_may_not_hold() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    let (open, secret) = (doc(1), doc(2));
    chain(&mut a, open, 0, 5);
    chain(&mut a, secret, 0, 5);
    let not_secret = |d: &DocKey| *d != secret;
    // As initiator and as responder.
    let r = run_with(&mut a, &mut b, &Config::default(), &not_secret, &everything, 2);
    assert_eq!(b.doc_envelopes(&secret).len(), 0);
    assert_eq!(b.doc_envelopes(&open).len(), 5);
    let mut c = MemView::new();
    let r2 = run_with(&mut c, &mut a, &Config::default(), &everything, &not_secret, 3);
    assert_eq!(c.doc_envelopes(&secret).len(), 0);
    for (_, m) in r.wire.iter().chain(&r2.wire) {
        for part in &m.frame().parts {
            match part {
                Part::Envelopes { doc, .. } | Part::Heads { doc, .. } => assert_ne!(*doc, secret),
                _ => {}
            }
        }
    }
}

#[test]
fn frames_stay_within_the_limit() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    for n in 0..10 {
        let mut deps = vec![];
        for i in 0..10 {
            let bytes = vec![n * 16 + i; 20_000];
            deps = vec![a.insert_envelope(doc(n), deps, bytes).unwrap()];
        }
    }
    let config = Config {
        frame_bytes_max: FRAME_BYTES_MIN,
        ..Config::default()
    };
    let r = run_with(&mut a, &mut b, &config, &everything, &everything, 4);
    assert!(same(&a, &b));
    // 2 MB in frames of 64 KiB: three items per frame.
    assert!(r.initiator.round_trips >= 30, "{r:?}");
    assert!(r.wire.iter().all(|(_, m)| m.encoded_len() <= FRAME_BYTES_MIN));
}

#[test]
fn items_too_large_for_a_frame_are_skipped() {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    a.insert_envelope(doc(1), vec![], vec![1; 100_000]).unwrap();
    a.insert_envelope(doc(2), vec![], vec![2; 100]).unwrap();
    let config = Config {
        frame_bytes_max: FRAME_BYTES_MIN,
        ..Config::default()
    };
    let r = run_with(&mut a, &mut b, &config, &everything, &everything, 5);
    assert_eq!(r.initiator.items_unsendable, 1);
    assert_eq!(b.envelope_count(), 1);
}

fn hello() -> Part {
    Part::Hello(Hello {
        salt: [9; 16],
        frame_bytes_max: FRAME_BYTES_MAX as u32,
        ids_per_message_max: IDS_PER_MESSAGE_MAX as u32,
    })
}

fn request(parts: Vec<Part>) -> Message {
    Message::v1(Frame {
        session: SessionId([9; 8]),
        request: 0,
        more: false,
        parts,
    })
}

#[test]
fn items_out_of_order_are_held_until_their_dependencies_arrive() {
    let parent = b"parent".to_vec();
    let child = WireItem {
        deps: vec![Dep::Id(id_of(&parent))],
        bytes: Bytes(b"child".to_vec()),
    };
    let parent = WireItem {
        deps: vec![],
        bytes: Bytes(parent),
    };
    let orphan = WireItem {
        deps: vec![Dep::Id([7; 32])],
        bytes: Bytes(b"orphan".to_vec()),
    };
    let message = request(vec![
        hello(),
        Part::Envelopes {
            doc: doc(1),
            items: vec![child, orphan, parent],
        },
    ]);
    let mut view = MemView::new();
    let mut responder = Session::accept(Config::default(), Time(0));
    let mut end = None;
    let outputs = responder.handle_message(&view, message, Time(0));
    perform(&mut view, outputs, &mut end);
    assert_eq!(view.envelope_count(), 2);
    assert_eq!(view.doc_envelopes(&doc(1)), [id_of(b"parent"), id_of(b"child")]);
    let stats = end.expect("ended").expect("done");
    assert_eq!(stats.items_dropped, 1);
}

#[test]
fn garbage_fails_the_session_without_panicking() {
    let view = MemView::new();
    let mut responder = Session::accept(Config::default(), Time(0));
    let out = responder.handle_bytes(&view, &[0, 1, 2, 3, 200, 200, 200], Time(0));
    assert!(matches!(out.last(), Some(Output::Failed(Failure::Decode(_)))));
    assert!(responder.is_finished());
    assert!(responder.handle_bytes(&view, &[0], Time(1)).is_empty());
}

#[test]
fn protocol_violations_fail_the_session() {
    let view = MemView::new();
    let mut responder = Session::accept(Config::default(), Time(0));
    let out = responder.handle_message(&view, request(vec![Part::WantOps(vec![])]), Time(0));
    assert!(matches!(out.last(), Some(Output::Failed(Failure::Protocol(_)))));

    let (mut initiator, _) = Session::initiate(&view, Config::default(), [1; 16], Time(0));
    let mut wrong = request(vec![hello()]);
    let Message::V1(frame) = &mut wrong;
    frame.request = 5;
    let out = initiator.handle_message(&view, wrong, Time(0));
    assert!(matches!(out.last(), Some(Output::Failed(Failure::Protocol(_)))));
}

#[test]
fn silence_times_out() {
    let view = MemView::new();
    let config = Config::default();
    let (mut initiator, _) = Session::initiate(&view, config.clone(), [1; 16], Time(1_000));
    assert_eq!(initiator.deadline(), Some(Time(1_000 + config.idle_timeout_ms)));
    assert!(initiator.tick(&view, Time(1_001)).is_empty());
    let out = initiator.tick(&view, Time(1_000 + config.idle_timeout_ms));
    assert!(matches!(out.last(), Some(Output::Failed(Failure::Timeout(_)))));
    assert_eq!(initiator.deadline(), None);
}

#[test]
fn dependency_order_puts_dependencies_first() {
    let ids: BTreeSet<Id> = [[3; 32], [1; 32], [2; 32]].into_iter().collect();
    // 1 depends on 3, 3 depends on 2.
    let order = dependency_order(&ids, |id| match id[0] {
        1 => vec![[3; 32]],
        3 => vec![[2; 32], [99; 32]],
        _ => vec![],
    });
    assert_eq!(order, [[2; 32], [3; 32], [1; 32]]);
}

/// A random universe of ops and envelopes, each held by A, B or both, such
/// that both stores are dependency-closed.
#[derive(Debug, Clone)]
struct Universe {
    ops: Vec<(Vec<usize>, u8)>,
    docs: Vec<Vec<(Vec<usize>, u8)>>,
}

fn universe() -> impl Strategy<Value = Universe> {
    let node = (proptest::collection::vec(any::<usize>(), 0..3), 1u8..=3);
    (
        proptest::collection::vec(node.clone(), 0..25),
        proptest::collection::vec(proptest::collection::vec(node, 0..25), 0..5),
    )
        .prop_map(|(ops, docs)| Universe { ops, docs })
}

/// Builds A and B from a universe; returns them and the union's sizes.
fn build(u: &Universe) -> (MemView, MemView, usize, usize) {
    let (mut a, mut b) = (MemView::new(), MemView::new());
    let mut count = [0usize; 2];
    let lists = std::iter::once((None, &u.ops)).chain(u.docs.iter().enumerate().map(|(n, l)| (Some(doc(n as u8)), l)));
    for (doc, items) in lists {
        let mut held: Vec<(u8, Id)> = Vec::new();
        for (i, (deps, mask)) in items.iter().enumerate() {
            let deps: BTreeSet<usize> = deps.iter().filter(|_| i > 0).map(|d| d % i.max(1)).collect();
            // Held where it was placed and all its dependencies are.
            let mask = deps.iter().fold(*mask, |m, d| m & held[*d].0);
            let deps: Vec<Id> = deps.iter().map(|d| held[*d].1).collect();
            let bytes = format!("{doc:?} item {i} {items:?}").into_bytes();
            let id = id_of(&bytes);
            let item = match doc {
                None => Item::Op(Op { id, deps, bytes }),
                Some(doc) => Item::Envelope(Envelope { id, doc, deps, bytes }),
            };
            if mask != 0 {
                count[usize::from(doc.is_some())] += 1;
            }
            if mask & 1 != 0 {
                a.insert(item.clone()).unwrap();
            }
            if mask & 2 != 0 {
                b.insert(item).unwrap();
            }
            held.push((mask, id));
        }
    }
    (a, b, count[0], count[1])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reconciling_any_two_sets_yields_the_union_on_both_sides(
        u in universe(),
        leaf in 1usize..6,
        split in 2usize..5,
        salt in any::<u8>(),
    ) {
        let (mut a, mut b, ops, envelopes) = build(&u);
        let config = Config { leaf_items_max: leaf, split_max: split, initial_ranges_max: split, ..Config::default() };
        let r = run_with(&mut a, &mut b, &config, &everything, &everything, salt);
        prop_assert!(same(&a, &b));
        prop_assert_eq!(a.op_count(), ops);
        prop_assert_eq!(a.envelope_count(), envelopes);
        prop_assert_eq!(r.initiator.items_dropped + r.responder.items_dropped, 0);
        // A second session finds nothing to do.
        let again = run_with(&mut a, &mut b, &config, &everything, &everything, salt.wrapping_add(1));
        prop_assert_eq!(again.initiator.round_trips, 1);
    }

    #[test]
    fn responders_never_panic_on_random_requests(parts in proptest::collection::vec(crate::message::tests::part(), 0..6)) {
        let mut view = MemView::new();
        chain(&mut view, doc(1), 0, 20);
        view.insert_op(vec![], b"op".to_vec()).unwrap();
        let mut responder = Session::accept(Config::default(), Time(0));
        let mut all = vec![hello()];
        all.extend(parts);
        let _ = responder.handle_message(&view, request(all), Time(0));
    }
}
