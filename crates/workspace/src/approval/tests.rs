use super::*;
use crate::record::{self, RecordKind};
use outpost_identity::op::DeptPath;
use proptest::prelude::*;

/// The people of these tests, by key byte.
const APPLICANT: u8 = 1;
const HEAD_EAST: u8 = 2;
const ADMIN: u8 = 3;
const FINANCE: u8 = 4;
const HEAD_WEST: u8 = 5;
const HEAD_HQ: u8 = 6;
const PEOPLE: [u8; 6] = [APPLICANT, HEAD_EAST, ADMIN, FINANCE, HEAD_WEST, HEAD_HQ];

fn signer(who: u8) -> Signer {
    let (role, dept) = match who {
        APPLICANT => (Role::Member, "HQ/East"),
        HEAD_EAST => (Role::DeptHead, "HQ/East"),
        ADMIN => (Role::Admin, ""),
        FINANCE => (Role::Member, "HQ/Finance"),
        HEAD_WEST => (Role::DeptHead, "HQ/West"),
        HEAD_HQ => (Role::DeptHead, "HQ"),
        _ => (Role::Member, "HQ/Other"),
    };
    Signer {
        key: [who; 32],
        cert: [who.wrapping_add(100); 32],
        role,
        dept: DeptPath::parse(dept).expect("a path"),
    }
}

/// Stage 1: the department head; stage 2: an admin and, in parallel, the
/// finance member.
fn expense() -> Template {
    Template {
        name: "expense".into(),
        fields: vec![
            Field {
                name: "amount".into(),
                kind: FieldKind::Money,
                required: true,
            },
            Field {
                name: "purpose".into(),
                kind: FieldKind::Text,
                required: false,
            },
        ],
        stages: vec![
            vec![Step {
                name: "head".into(),
                approvers: Approvers::DeptHead,
            }],
            vec![
                Step {
                    name: "admin".into(),
                    approvers: Approvers::Role(Role::Admin),
                },
                Step {
                    name: "finance".into(),
                    approvers: Approvers::Members(vec![[FINANCE; 32]]),
                },
            ],
        ],
        creates_task: Some("Ops".into()),
    }
}

fn submit() -> Op {
    Op::Submit {
        title: "Taxi".into(),
        template: expense(),
        fields: [("amount".to_owned(), "42.50".to_owned())].into(),
    }
}

fn decide(stage: u16, step: u16, approve: bool) -> Op {
    Op::Decide {
        stage,
        step,
        approve,
        comment: String::new(),
    }
}

/// Builds logs record by record: each record gets the next id.
#[derive(Default)]
struct Log {
    records: Vec<Record<Op>>,
}

impl Log {
    /// Adds `op` by `who` after `deps` (record numbers); returns its number.
    fn add(&mut self, who: u8, deps: &[usize], op: Op) -> usize {
        let n = self.records.len();
        self.records.push(Record {
            id: [n as u8 + 1; 32],
            signer: signer(who),
            time: 1000 + n as u64,
            deps: deps.iter().map(|d| self.records[*d].id).collect(),
            body: op,
        });
        n
    }

    fn build(&self) -> Request {
        Request::build(&self.records, &[APPLICANT; 32]).expect("a request")
    }

    fn ignored(&self, n: usize) -> Option<Ignored> {
        let id = self.records[n].id;
        let req = self.build();
        req.history
            .iter()
            .find(|e| e.id == id)
            .expect("in the history")
            .ignored
            .clone()
    }
}

/// A log with the submission (0) and the head's approval (1).
fn at_stage_two() -> Log {
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    log.add(HEAD_EAST, &[0], decide(0, 0, true));
    log
}

#[test]
fn builtin_templates_are_valid() {
    let names: Vec<String> = builtins().iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, ["leave", "expense", "seal"]);
    for t in builtins() {
        t.check().expect("a built-in template is valid");
    }
    let seal = &builtins()[2];
    assert_eq!(seal.stages.len(), 1, "the seal's two steps are parallel");
    assert_eq!(seal.stages[0].len(), 2);
}

#[test]
fn fields_are_checked_by_kind() {
    let leave = &builtins()[0];
    let ok: BTreeMap<String, String> = [("from", "2027-02-28"), ("to", "2028-02-29")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    leave.check_fields(&ok).expect("two dates");
    let mut bad = ok.clone();
    bad.insert("to".into(), "2027-02-29".into());
    assert!(matches!(leave.check_fields(&bad), Err(FieldError::Kind { .. })));
    let mut missing = ok.clone();
    missing.remove("from");
    assert_eq!(leave.check_fields(&missing), Err(FieldError::Missing("from".into())));
    let mut unknown = ok;
    unknown.insert("mood".into(), "good".into());
    assert_eq!(leave.check_fields(&unknown), Err(FieldError::Unknown("mood".into())));
    for (kind, good, bad) in [
        (FieldKind::Money, "1200.50", "12.505"),
        (FieldKind::Money, "7", "-7"),
        (FieldKind::Number, "-3.25", "3,25"),
        (FieldKind::Date, "2026-12-01", "2026-13-01"),
        (FieldKind::Date, "2024-02-29", "2026-1-01"),
    ] {
        assert!(kind.accepts(good), "{kind} {good}");
        assert!(!kind.accepts(bad), "{kind} {bad}");
    }
}

#[test]
fn templates_with_bad_rules_are_refused() {
    let mut t = expense();
    t.stages.push(Vec::new());
    assert_eq!(t.check(), Err(TemplateError::Empty));
    let mut t = expense();
    t.stages[1][1].name = "HEAD".into();
    assert!(matches!(t.check(), Err(TemplateError::Duplicate { .. })));
    let mut t = expense();
    t.stages[1][1].approvers = Approvers::Members(Vec::new());
    assert_eq!(t.check(), Err(TemplateError::NoApprover("finance".into())));
    let mut t = expense();
    t.stages[0][0].approvers = Approvers::Role(Role::Relay);
    assert!(matches!(t.check(), Err(TemplateError::BadRole(..))));
    let mut t = expense();
    t.name = " ".into();
    assert!(matches!(t.check(), Err(TemplateError::BadName { .. })));
}

#[test]
fn two_stages_with_a_parallel_step_approve_in_turn() {
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    let req = log.build();
    assert_eq!((req.state, req.stage), (State::Pending, Some(0)));
    assert_eq!(req.steps[1][0].state, StepState::Waiting);
    assert_eq!(req.waiting(), [(0, 0)]);
    assert_eq!(req.decidable_by(&signer(HEAD_EAST)), [(0, 0)]);
    assert_eq!(
        req.decidable_by(&signer(HEAD_HQ)),
        [(0, 0)],
        "a head above the department"
    );
    assert!(req.decidable_by(&signer(HEAD_WEST)).is_empty());
    assert!(req.decidable_by(&signer(ADMIN)).is_empty(), "stage 2 is not active yet");

    log.add(HEAD_EAST, &[0], decide(0, 0, true));
    let req = log.build();
    assert_eq!((req.state, req.stage), (State::Pending, Some(1)));
    assert_eq!(req.waiting(), [(1, 0), (1, 1)]);
    assert_eq!(req.decidable_by(&signer(ADMIN)), [(1, 0)]);
    assert_eq!(req.decidable_by(&signer(FINANCE)), [(1, 1)]);

    // The two parallel steps, decided concurrently.
    log.add(ADMIN, &[1], decide(1, 0, true));
    log.add(FINANCE, &[1], decide(1, 1, true));
    let req = log.build();
    assert_eq!((req.state, req.stage), (State::Approved, None));
    assert!(req.history.iter().all(|e| e.ignored.is_none()), "{:?}", req.history);
    assert_eq!(req.steps[1][1].decisions, [log.records[3].id]);
    let completer = req.completer().expect("approved").key;
    assert!(completer == [ADMIN; 32] || completer == [FINANCE; 32]);
}

#[test]
fn a_rejection_wins_over_a_concurrent_approval_in_any_order() {
    let mut log = at_stage_two();
    let yes = log.add(ADMIN, &[1], decide(1, 0, true));
    let no = log.add(FINANCE, &[1], decide(1, 1, false));
    let req = log.build();
    assert_eq!(req.state, State::Rejected);
    assert_eq!(req.steps[1][0].state, StepState::Approved);
    assert_eq!(req.steps[1][1].state, StepState::Rejected);
    assert_eq!(log.ignored(yes), None);
    assert_eq!(log.ignored(no), None);

    // Two admins on the same step: the rejection wins, whichever is first.
    for (first, second) in [(true, false), (false, true)] {
        let mut log = at_stage_two();
        let a = log.add(ADMIN, &[1], decide(1, 0, first));
        let mut other = signer(ADMIN);
        other.key = [33; 32];
        log.records.push(Record {
            id: [99; 32],
            signer: other,
            time: 1,
            deps: vec![log.records[1].id],
            body: decide(1, 0, second),
        });
        let req = log.build();
        assert_eq!(req.state, State::Rejected, "{first} then {second}");
        assert_eq!(req.steps[1][0].state, StepState::Rejected);
        assert_eq!(req.steps[1][0].decisions.len(), 2, "both count");
        assert_eq!(log.ignored(a), None);
    }
}

#[test]
fn a_later_stage_cannot_be_approved_ahead() {
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    // The admin decides stage 2 without having seen stage 1 approved.
    let early = log.add(ADMIN, &[0], decide(1, 0, true));
    log.add(HEAD_EAST, &[0], decide(0, 0, true));
    // Even once both are known, the early approval does not count.
    log.add(FINANCE, &[1, 2], decide(1, 1, true));
    let req = log.build();
    assert_eq!(log.ignored(early), Some(Ignored::StageNotActive));
    assert_eq!((req.state, req.stage), (State::Pending, Some(1)));
    assert_eq!(req.steps[1][0].state, StepState::Pending);
    assert_eq!(req.steps[1][1].state, StepState::Approved);
    assert_eq!(req.decidable_by(&signer(ADMIN)), [(1, 0)], "the admin may decide again");
}

#[test]
fn only_eligible_approvers_count() {
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    let own = log.add(APPLICANT, &[0], decide(0, 0, true));
    let west = log.add(HEAD_WEST, &[0], decide(0, 0, true));
    let member = log.add(FINANCE, &[0], decide(0, 0, false));
    let nowhere = log.add(HEAD_EAST, &[0], decide(0, 5, true));
    let req = log.build();
    assert_eq!(log.ignored(own), Some(Ignored::Applicant));
    assert_eq!(log.ignored(west), Some(Ignored::NotEligible));
    assert_eq!(log.ignored(member), Some(Ignored::NotEligible));
    assert_eq!(log.ignored(nowhere), Some(Ignored::NoSuchStep));
    assert_eq!((req.state, req.stage), (State::Pending, Some(0)));
    assert_eq!(
        req.judge(&signer(APPLICANT), &decide(0, 0, true)),
        Err(Ignored::Applicant)
    );
    // The finance member may decide their step only.
    let mut log = at_stage_two();
    let wrong = log.add(FINANCE, &[1], decide(1, 0, true));
    assert_eq!(log.ignored(wrong), Some(Ignored::NotEligible));
}

#[test]
fn a_decided_step_or_request_takes_no_more_decisions() {
    let mut log = at_stage_two();
    let head_hq = log.add(HEAD_HQ, &[1], decide(0, 0, false));
    assert_eq!(log.ignored(head_hq), Some(Ignored::StepDecided));
    log.add(ADMIN, &[1], decide(1, 0, true));
    log.add(FINANCE, &[1], decide(1, 1, false));
    let late = log.add(ADMIN, &[3, 4], decide(1, 0, false));
    assert_eq!(log.ignored(late), Some(Ignored::Decided));
    let req = log.build();
    assert_eq!(req.state, State::Rejected);
    assert_eq!(req.judge(&signer(ADMIN), &decide(1, 0, true)), Err(Ignored::Decided));
}

#[test]
fn withdrawal_before_the_final_decision_wins() {
    // Withdrawn while pending: decisions that saw it do not count.
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    log.add(APPLICANT, &[0], Op::Withdraw);
    let late = log.add(HEAD_EAST, &[1], decide(0, 0, true));
    assert_eq!(log.ignored(late), Some(Ignored::Withdrawn));
    assert_eq!(log.build().state, State::Withdrawn);

    // Concurrent with the final approval: withdrawn.
    let mut log = at_stage_two();
    log.add(ADMIN, &[1], decide(1, 0, true));
    log.add(FINANCE, &[2], decide(1, 1, true));
    let w = log.add(APPLICANT, &[1], Op::Withdraw);
    assert_eq!(log.ignored(w), None);
    assert_eq!(log.build().state, State::Withdrawn);
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    log.add(APPLICANT, &[0], Op::Withdraw);
    let req = log.build();
    assert_eq!(
        (req.steps[0][0].state, req.steps[1][1].state),
        (StepState::Closed, StepState::Closed)
    );
    assert_eq!(req.stage, None);

    // After the final approval (seen): too late.
    let mut log = at_stage_two();
    log.add(ADMIN, &[1], decide(1, 0, true));
    log.add(FINANCE, &[2], decide(1, 1, true));
    let w = log.add(APPLICANT, &[3], Op::Withdraw);
    assert_eq!(log.ignored(w), Some(Ignored::Decided));
    assert_eq!(log.build().state, State::Approved);

    // Only the applicant withdraws.
    let mut log = at_stage_two();
    let w = log.add(ADMIN, &[1], Op::Withdraw);
    assert_eq!(log.ignored(w), Some(Ignored::NotApplicant));
}

#[test]
fn the_first_submission_by_the_owner_defines_the_request() {
    let mut log = Log::default();
    log.add(APPLICANT, &[], submit());
    // A writer of the space backdates a submission of their own: ignored.
    log.records.push(Record {
        id: [200; 32],
        signer: signer(ADMIN),
        time: 1,
        deps: Vec::new(),
        body: Op::Submit {
            title: "Mine".into(),
            template: builtins()[2].clone(),
            fields: [("document", "x"), ("purpose", "y")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
        },
    });
    let again = log.add(APPLICANT, &[0], submit());
    let before = log.add(HEAD_EAST, &[], decide(0, 0, true));
    let req = log.build();
    assert_eq!(req.title, "Taxi");
    assert_eq!(req.submission, log.records[0].id);
    assert_eq!(log.ignored(1), Some(Ignored::NotOwner));
    assert_eq!(log.ignored(again), Some(Ignored::Resubmitted));
    assert_eq!(log.ignored(before), Some(Ignored::BeforeSubmission));
    assert!(Request::build(&log.records, &[ADMIN; 32]).is_some_and(|r| r.title == "Mine"));
    assert!(Request::build(&log.records, &[FINANCE; 32]).is_none());
}

#[test]
fn one_task_is_recorded_once_approved() {
    let mut log = at_stage_two();
    let task = || Op::TaskCreated {
        project: "p".into(),
        task: "t".into(),
    };
    let early = log.add(ADMIN, &[1], task());
    log.add(ADMIN, &[1], decide(1, 0, true));
    log.add(FINANCE, &[3], decide(1, 1, true));
    let first = log.add(FINANCE, &[4], task());
    let second = log.add(ADMIN, &[4], task());
    let req = log.build();
    assert_eq!(log.ignored(early), Some(Ignored::NotApproved));
    assert_eq!(log.ignored(first), None);
    assert_eq!(log.ignored(second), Some(Ignored::TaskRecorded));
    assert_eq!(req.task.as_ref().map(|t| t.record), Some(log.records[first].id));
    assert_eq!(req.completer().map(|s| s.key), Some([FINANCE; 32]));
    assert_eq!(req.judge(&signer(ADMIN), &task()), Err(Ignored::TaskRecorded));
}

#[test]
fn only_admins_templates_count_and_later_ones_replace() {
    let rec = |n: u8, who: u8, deps: &[u8], t: Template| Record {
        id: [n; 32],
        signer: signer(who),
        time: u64::from(n),
        deps: deps.iter().map(|d| [*d; 32]).collect(),
        body: TemplateOp::Put(t),
    };
    let mut mine = expense();
    mine.name = "Travel".into();
    let mut leave = builtins()[0].clone();
    leave.creates_task = Some("HR".into());
    let mut broken = expense();
    broken.stages.clear();
    let mut later = mine.clone();
    later.fields.clear();
    let records = vec![
        rec(1, ADMIN, &[], mine),
        rec(2, HEAD_EAST, &[], expense()),
        rec(3, ADMIN, &[1], leave),
        rec(4, ADMIN, &[], broken),
        rec(5, ADMIN, &[1], later.clone()),
    ];
    let t = Templates::build(&records);
    assert_eq!(
        t.by_name.keys().collect::<Vec<_>>(),
        ["expense", "leave", "seal", "travel"]
    );
    assert_eq!(t.get("TRAVEL").map(|l| &l.template), Some(&later));
    assert_eq!(
        t.get("leave").and_then(|l| l.template.creates_task.clone()),
        Some("HR".into())
    );
    assert_eq!(
        t.get("expense").and_then(|l| l.record),
        None,
        "a member's template is ignored"
    );
    assert_eq!(t.ignored.len(), 2);
    assert_eq!(t.ignored[0], ([2; 32], TemplateIgnored::NotAdmin));
}

#[test]
fn ops_round_trip_through_the_record_encoding() {
    for op in [
        submit(),
        decide(1, 1, false),
        Op::Withdraw,
        Op::TaskCreated {
            project: "ab".into(),
            task: "cd".into(),
        },
    ] {
        let bytes = record::encode(RecordKind::Approval, &op).expect("encodes");
        assert_eq!(record::decode::<Op>(RecordKind::Approval, &bytes), Ok(op));
    }
    let t = TemplateOp::Put(expense());
    let bytes = record::encode(RecordKind::Templates, &t).expect("encodes");
    assert_eq!(record::decode::<TemplateOp>(RecordKind::Templates, &bytes), Ok(t));
}

/// One generated record: who, which op, which earlier records it saw.
#[derive(Clone, Debug)]
struct Gen {
    who: u8,
    op: u8,
    stage: u16,
    step: u16,
    approve: bool,
    deps: u16,
    time: u64,
}

fn arb_record() -> impl Strategy<Value = Gen> {
    (
        0..6usize,
        0..10u8,
        0..3u16,
        0..3u16,
        any::<bool>(),
        any::<u16>(),
        0..20u64,
    )
        .prop_map(|(who, op, stage, step, approve, deps, time)| Gen {
            who: PEOPLE[who],
            op,
            stage,
            step,
            approve,
            deps,
            time,
        })
}

/// A log from generated records: the first is the applicant's submission;
/// each later one depends on a random subset of the ones before it.
fn log_of(gens: &[Gen]) -> Vec<Record<Op>> {
    let mut out: Vec<Record<Op>> = Vec::new();
    for (i, g) in gens.iter().enumerate() {
        let (who, op) = if i == 0 {
            (APPLICANT, submit())
        } else {
            let op = match g.op {
                0 => Op::Withdraw,
                1 => Op::TaskCreated {
                    project: "p".into(),
                    task: format!("t{i}"),
                },
                2 => submit(),
                _ => decide(g.stage, g.step, g.approve),
            };
            (g.who, op)
        };
        let deps = (0..i.min(16))
            .filter(|d| g.deps & (1 << d) != 0)
            .map(|d| out[i - 1 - d].id)
            .collect();
        out.push(Record {
            id: [i as u8 + 1; 32],
            signer: signer(who),
            time: g.time,
            deps,
            body: op,
        });
    }
    out
}

proptest! {
    /// Every node folds the same set of records into the same request,
    /// whatever order they arrived in.
    #[test]
    fn the_fold_does_not_depend_on_the_order_of_records(
        (gens, perm) in prop::collection::vec(arb_record(), 1..16).prop_flat_map(|g| {
            let n = g.len();
            (Just(g), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let records = log_of(&gens);
        let shuffled: Vec<Record<Op>> = perm.iter().map(|&i| records[i].clone()).collect();
        let owner = [APPLICANT; 32];
        let a = Request::build(&records, &owner);
        let b = Request::build(&shuffled, &owner);
        prop_assert_eq!(&a, &b);
        let req = a.expect("the first record is a valid submission");
        // A rejection anywhere rejects the request, unless it was withdrawn.
        let rejected = req.steps.iter().flatten().any(|s| s.state == StepState::Rejected);
        if req.state != State::Withdrawn {
            prop_assert_eq!(rejected, req.state == State::Rejected);
        }
    }

    /// `judge` says of a new record that saw everything what `build` does
    /// once it is added.
    #[test]
    fn judging_a_new_record_agrees_with_the_fold(gens in prop::collection::vec(arb_record(), 1..12), last in arb_record()) {
        let mut records = log_of(&gens);
        let owner = [APPLICANT; 32];
        let req = Request::build(&records, &owner).expect("a request");
        let mut all = gens.clone();
        all.push(last);
        let next = log_of(&all).pop().expect("one more");
        let heads: Vec<RecordId> = records.iter().map(|r| r.id).collect();
        let verdict = req.judge(&next.signer, &next.body);
        records.push(Record { deps: heads, ..next });
        let after = Request::build(&records, &owner).expect("a request");
        let entry = after.history.last().expect("a history");
        prop_assert_eq!(entry.id, records.last().expect("added").id);
        prop_assert_eq!(verdict.err(), entry.ignored.clone());
    }
}
