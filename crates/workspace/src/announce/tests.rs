use super::*;
use outpost_identity::PublicKey;
use proptest::prelude::*;

const ADMIN: Member = [1; 32];
const HEAD: Member = [2; 32];
const BOB: Member = [3; 32];
const CAROL: Member = [4; 32];
const DAVE: Member = [5; 32];

fn dept(path: &str) -> DeptPath {
    DeptPath::parse(path).expect("a valid path")
}

fn signer(key: Member) -> Signer {
    let (role, d) = match key {
        ADMIN => (Role::Admin, ""),
        HEAD => (Role::DeptHead, "HQ/East"),
        BOB | CAROL => (Role::Member, "HQ/East"),
        _ => (Role::Member, "HQ/West"),
    };
    Signer {
        key,
        cert: [key[0] + 100; 32],
        role,
        dept: dept(d),
    }
}

/// Builds records with distinct ids; each depends on every earlier one.
#[derive(Default)]
struct Log {
    records: Vec<Record<Entry>>,
}

impl Log {
    fn add(&mut self, by: Member, time: u64, body: Entry) -> RecordId {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(self.records.len() as u64 + 1).to_be_bytes());
        id[31] = 0xaa;
        let deps = self.records.iter().map(|r| r.id).collect();
        self.records.push(Record {
            id,
            signer: signer(by),
            time,
            deps,
            body,
        });
        id
    }

    /// A record that saw nothing: concurrent with everything before it.
    fn add_alone(&mut self, by: Member, time: u64, body: Entry) -> RecordId {
        let id = self.add(by, time, body);
        self.records.last_mut().expect("just added").deps.clear();
        id
    }
}

fn publish(audience: &[&str], ack: bool) -> Entry {
    Entry::Publish(Publish {
        title: "Office closed Friday".into(),
        body: "The **HQ** office is closed.".into(),
        audience: audience.iter().map(|a| (*a).to_owned()).collect(),
        pinned_until: Some(1000),
        ack_required: ack,
        attachments: Vec::new(),
    })
}

#[test]
fn admins_publish_to_anyone_heads_to_their_departments_members_never() {
    let mut log = Log::default();
    let p = log.add(ADMIN, 10, publish(&["everyone"], false));
    let a = Announcement::build(&log.records);
    assert_eq!(a.published.as_ref().map(|p| p.id), Some(p));
    assert!(a.rejected.is_none());

    let mut log = Log::default();
    log.add(HEAD, 10, publish(&["dept:HQ/East", "dept:HQ/East/Sales"], false));
    assert!(Announcement::build(&log.records).published.is_some());

    let mut log = Log::default();
    let p = log.add(HEAD, 10, publish(&["dept:HQ/East", "dept:HQ/West"], false));
    let a = Announcement::build(&log.records);
    assert!(a.published.is_none());
    let rejected = a.rejected.expect("rejected");
    assert_eq!(rejected.id, p);
    assert!(matches!(rejected.refusal, Refusal::OutsideDept { ref entry, .. } if entry == "dept:HQ/West"));
    for audience in ["everyone", "role:member", "dept:HQ"] {
        let mut log = Log::default();
        log.add(HEAD, 10, publish(&[audience], false));
        assert!(
            Announcement::build(&log.records).published.is_none(),
            "a head may not address {audience}"
        );
    }

    let mut log = Log::default();
    let p = log.add(BOB, 10, publish(&["dept:HQ/East"], false));
    log.add(CAROL, 11, Entry::Read { of: p });
    let a = Announcement::build(&log.records);
    assert!(a.published.is_none());
    assert_eq!(
        a.rejected.as_ref().map(|r| r.refusal.clone()),
        Some(Refusal::NotAPublisher(Role::Member))
    );
    assert_eq!(
        a.rejected.as_ref().map(|r| r.title.as_str()),
        Some("Office closed Friday")
    );
    assert_eq!(
        a.ignored,
        vec![
            (p, Ignored::Refused(Refusal::NotAPublisher(Role::Member))),
            (log.records[1].id, Ignored::NotPublished)
        ]
    );
    assert!(a.receipts.is_empty());
}

#[test]
fn a_bad_audience_or_missing_title_does_not_count() {
    let mut log = Log::default();
    log.add(ADMIN, 10, publish(&["team:x"], false));
    assert_eq!(
        Announcement::build(&log.records).rejected.map(|r| r.refusal),
        Some(Refusal::BadAudience("team:x".into()))
    );
    let mut log = Log::default();
    log.add(ADMIN, 10, publish(&["role:guest"], false));
    assert!(Announcement::build(&log.records).published.is_none());
    let mut log = Log::default();
    log.add(ADMIN, 10, publish(&[], false));
    assert_eq!(
        Announcement::build(&log.records).rejected.map(|r| r.refusal),
        Some(Refusal::NoAudience)
    );
    let mut log = Log::default();
    let Entry::Publish(mut p) = publish(&["everyone"], false) else {
        unreachable!()
    };
    p.title = " ".into();
    log.add(ADMIN, 10, Entry::Publish(p));
    assert_eq!(
        Announcement::build(&log.records).rejected.map(|r| r.refusal),
        Some(Refusal::NoTitle)
    );
}

#[test]
fn the_first_counting_publish_defines_the_announcement() {
    let mut log = Log::default();
    let forged = log.add(BOB, 5, publish(&["everyone"], false));
    let real = log.add(ADMIN, 10, publish(&["dept:HQ/East"], true));
    let again = log.add(ADMIN, 11, publish(&["everyone"], false));
    let a = Announcement::build(&log.records);
    assert_eq!(a.published.as_ref().map(|p| p.id), Some(real));
    assert!(a.rejected.is_none(), "a counting publish clears the rejection");
    assert_eq!(
        a.ignored,
        vec![
            (forged, Ignored::Refused(Refusal::NotAPublisher(Role::Member))),
            (again, Ignored::AlreadyPublished)
        ]
    );
}

#[test]
fn reads_and_acks_count_from_the_audience_once_each() {
    let mut log = Log::default();
    let p = log.add(HEAD, 10, publish(&["dept:HQ/East"], true));
    let bob_read = log.add(BOB, 20, Entry::Read { of: p });
    let bob_again = log.add(BOB, 21, Entry::Read { of: p });
    let bob_ack = log.add(BOB, 30, Entry::Ack { of: p });
    let bob_ack2 = log.add(BOB, 31, Entry::Ack { of: p });
    let carol_ack = log.add(CAROL, 40, Entry::Ack { of: p });
    let dave = log.add(DAVE, 50, Entry::Read { of: p });
    let own = log.add(HEAD, 60, Entry::Read { of: p });
    let stray = log.add(CAROL, 70, Entry::Read { of: [9; 32] });
    let a = Announcement::build(&log.records);
    assert_eq!(a.receipts.len(), 2);
    let bob = &a.receipts[&BOB];
    assert_eq!((bob.read.id, bob.read.time), (bob_read, 20));
    assert_eq!(
        bob.ack.as_ref().map(|m| (m.id, m.time, m.cert)),
        Some((bob_ack, 30, [103; 32]))
    );
    let carol = &a.receipts[&CAROL];
    assert_eq!(carol.read.id, carol_ack, "an acknowledgement is a read");
    assert_eq!(carol.ack.as_ref().map(|m| m.id), Some(carol_ack));
    assert_eq!(
        a.ignored,
        vec![
            (bob_again, Ignored::Repeated),
            (bob_ack2, Ignored::Repeated),
            (dave, Ignored::NotInAudience),
            (own, Ignored::ByPublisher),
            (stray, Ignored::NotPublished),
        ]
    );
    assert!(a.addresses(&signer(BOB)) && !a.addresses(&signer(DAVE)) && !a.addresses(&signer(HEAD)));
}

#[test]
fn acknowledgements_count_only_when_asked_for() {
    let mut log = Log::default();
    let p = log.add(ADMIN, 10, publish(&["everyone"], false));
    let ack = log.add(BOB, 20, Entry::Ack { of: p });
    let a = Announcement::build(&log.records);
    assert!(a.receipts.is_empty());
    assert_eq!(a.ignored, vec![(ack, Ignored::NotRequired)]);
}

#[test]
fn member_principals_and_roles_address_people() {
    let mut log = Log::default();
    let carol = format!("member:{}", PublicKey(CAROL));
    let p = log.add(ADMIN, 10, publish(&[&carol, "role:dept-head"], false));
    log.add(CAROL, 11, Entry::Read { of: p });
    log.add(HEAD, 12, Entry::Read { of: p });
    let bob = log.add(BOB, 13, Entry::Read { of: p });
    let a = Announcement::build(&log.records);
    assert_eq!(a.receipts.keys().copied().collect::<Vec<_>>(), vec![HEAD, CAROL]);
    assert_eq!(a.ignored, vec![(bob, Ignored::NotInAudience)]);
}

#[test]
fn pinned_until_a_time() {
    let mut log = Log::default();
    log.add(ADMIN, 10, publish(&["everyone"], false));
    let a = Announcement::build(&log.records);
    assert!(a.pinned(999));
    assert!(!a.pinned(1000));
    assert!(!Announcement::default().pinned(0));
}

#[test]
fn the_local_check_is_the_fold_s_rule() {
    let east = parse_audience(&["dept:HQ/East".into()]).expect("reads");
    assert_eq!(may_publish(Role::DeptHead, &dept("HQ/East"), &east), Ok(()));
    assert_eq!(may_publish(Role::Admin, &dept(""), &east), Ok(()));
    let err = may_publish(Role::Member, &dept("HQ/East"), &east).expect_err("members never publish");
    assert_eq!(
        err.to_string(),
        "only admins and department heads may publish announcements; the publisher signed as a member"
    );
    let err = may_publish(Role::DeptHead, &dept("HQ/West"), &east).expect_err("outside");
    assert!(err.to_string().contains("HQ/West"), "{err}");
}

/// A random log: a publish by a random author (so sometimes rejected),
/// maybe a concurrent second one, and reads and acks by anyone, some of
/// them concurrent with the publish or with each other.
fn random_log(seed: u64, n: usize) -> Log {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let people = [ADMIN, HEAD, BOB, CAROL, DAVE];
    let mut log = Log::default();
    let audiences: [&[&str]; 3] = [&["everyone"], &["dept:HQ/East"], &["dept:HQ/West"]];
    let first = log.add(
        people[(next() % 5) as usize],
        next() % 50,
        publish(audiences[(next() % 3) as usize], next() % 2 == 0),
    );
    let mut publishes = vec![first];
    for _ in 0..n {
        let by = people[(next() % 5) as usize];
        let time = next() % 100;
        let of = publishes[(next() % publishes.len() as u64) as usize];
        let body = match next() % 6 {
            0 => publish(audiences[(next() % 3) as usize], true),
            1 | 2 => Entry::Read { of },
            _ => Entry::Ack { of },
        };
        let id = if next() % 3 == 0 {
            log.add_alone(by, time, body)
        } else {
            log.add(by, time, body)
        };
        if matches!(log.records.last().map(|r| &r.body), Some(Entry::Publish(_))) {
            publishes.push(id);
        }
    }
    log
}

proptest! {
    #[test]
    fn the_announcement_does_not_depend_on_arrival_order(seed in any::<u64>(), shuffle in any::<u64>(), n in 0usize..30) {
        let log = random_log(seed, n);
        let a = Announcement::build(&log.records);
        let mut shuffled = log.records.clone();
        let mut s = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let b = Announcement::build(&shuffled);
        prop_assert_eq!(&a, &b);
        // Every record either counted or is listed as ignored, once.
        let counted = usize::from(a.published.is_some())
            + a.receipts.values().map(|r| 1 + usize::from(r.ack.as_ref().is_some_and(|k| k.id != r.read.id))).sum::<usize>();
        prop_assert_eq!(counted + a.ignored.len(), log.records.len());
    }
}
