use super::schedule::{self, Done, Plan, Weekday};
use super::*;
use proptest::prelude::*;

const KEY: BackupKey = BackupKey([7; 32]);

fn at(seq: u32, index: u32) -> SegmentAt {
    SegmentAt {
        chain: [3; 16],
        seq,
        index,
    }
}

/// One backup of `rows` against `prev`: the segments' plaintexts, the
/// new state and the record count.
fn backup(prev: &State, rows: &[(Space, &[u8], &[u8])]) -> (Vec<Vec<u8>>, State, u64) {
    let mut w = Writer::new(prev.clone());
    let mut segs = Vec::new();
    for (s, k, v) in rows {
        segs.extend(w.add(*s, k, v));
    }
    let (rest, state, n) = w.finish();
    segs.extend(rest);
    (segs, state, n)
}

#[test]
fn a_full_and_an_incremental_replay_to_the_same_state() {
    let rows1: Vec<(Space, &[u8], &[u8])> = vec![
        (Space::Settings, b"org-name", b"Acme"),
        (Space::Envelopes, &[1; 32], b"env one"),
        (Space::File, b"keys/member.key", b"armored"),
        (Space::File, b"blobs/ab/0.chunk", b"chunk"),
    ];
    let (segs1, s1, n1) = backup(&State::default(), &rows1);
    assert_eq!(n1, 4);
    // Changed a setting, added an envelope, removed a blob chunk.
    let rows2: Vec<(Space, &[u8], &[u8])> = vec![
        (Space::Settings, b"org-name", b"Acme Ltd"),
        (Space::Envelopes, &[1; 32], b"env one"),
        (Space::Envelopes, &[2; 32], b"env two"),
        (Space::File, b"keys/member.key", b"armored"),
    ];
    let (segs2, s2, n2) = backup(&s1, &rows2);
    assert_eq!(n2, 3, "one changed, one new, one removed");
    let mut replay = State::default();
    for (seq, segs) in [(0, &segs1), (1, &segs2)] {
        for (i, plain) in segs.iter().enumerate() {
            let sealed = seal_segment(&KEY, at(seq, i as u32), plain, [i as u8; 24]);
            replay.apply(&open_segment(&sealed, &KEY, at(seq, i as u32)).unwrap());
        }
    }
    assert_eq!(replay, s2);
    assert_eq!(replay.digest(), s2.digest());
    assert_ne!(s1.digest(), s2.digest());
}

#[test]
fn a_segment_is_bound_to_its_key_place_and_bytes() {
    let (segs, _, _) = backup(&State::default(), &[(Space::Settings, b"k", b"v")]);
    let sealed = seal_segment(&KEY, at(0, 0), &segs[0], [1; 24]);
    let other = BackupKey([8; 32]);
    assert!(matches!(
        open_segment(&sealed, &other, at(0, 0)),
        Err(DecodeError::WrongKey { .. })
    ));
    assert_eq!(
        open_segment(&sealed, &KEY, at(0, 1)),
        Err(DecodeError::Tampered { what: "segment" })
    );
    assert_eq!(
        open_segment(&sealed, &KEY, at(1, 0)),
        Err(DecodeError::Tampered { what: "segment" })
    );
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        open_segment(&bad, &KEY, at(0, 0)),
        Err(DecodeError::Tampered { what: "segment" })
    );
    assert!(matches!(
        open_segment(&sealed[..20], &KEY, at(0, 0)),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        open_segment(&sealed[..sealed.len() - 1], &KEY, at(0, 0)),
        Err(DecodeError::Tampered { .. })
    ));
    assert_eq!(
        open_segment(b"PK\x03\x04 a zip file", &KEY, at(0, 0)),
        Err(DecodeError::BadMagic { what: "segment" })
    );
    let mut newer = sealed.clone();
    newer[4] = 2;
    assert!(matches!(
        open_segment(&newer, &KEY, at(0, 0)),
        Err(DecodeError::Version { found: 2, .. })
    ));
}

#[test]
fn manifests_round_trip_and_refuse_inconsistent_links() {
    let m = Manifest {
        chain: [5; 16],
        seq: 2,
        parent: [9; 32],
        kind: Kind::Incremental,
        created: 1_800_000_000,
        state_digest: [4; 32],
        records: 12,
        segments: vec![SegmentInfo {
            bytes: 100,
            hash: [1; 32],
        }],
    };
    let sealed = seal_manifest(&KEY, &m, [2; 24]);
    assert_eq!(decode_manifest(&sealed, &KEY).unwrap(), m);
    let full_with_parent = Manifest {
        seq: 0,
        kind: Kind::Full,
        ..m.clone()
    };
    assert!(matches!(
        decode_manifest_body(&encode_manifest_body(&full_with_parent)),
        Err(DecodeError::Malformed { .. })
    ));
    let mut long = encode_manifest_body(&m);
    long.push(0);
    assert!(matches!(
        decode_manifest_body(&long),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn records_refuse_unsafe_paths_and_huge_lengths() {
    let bad = Record {
        space: Space::File,
        key: b"keys/../../etc/passwd".to_vec(),
        value: Some(b"x".to_vec()),
    };
    let mut plain = 1u32.to_be_bytes().to_vec();
    encode_record(&mut plain, &bad);
    assert!(matches!(decode_records(&plain), Err(DecodeError::Malformed { .. })));
    for p in ["keys/a.key", "blobs/00ff/12.chunk"] {
        assert!(is_safe_path(p.as_bytes()), "{p}");
    }
    for p in [
        "/keys/a",
        "keys",
        "keys/",
        "other/x",
        "blobs/a//b",
        "blobs/..",
        "keys/a b",
    ] {
        assert!(!is_safe_path(p.as_bytes()), "{p}");
    }
    let mut huge = 1u32.to_be_bytes().to_vec();
    huge.extend_from_slice(&[OP_PUT, 0, 0, 0, 0, 1, b'k', 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        decode_records(&huge),
        Err(DecodeError::TooLarge {
            what: "record value",
            ..
        })
    ));
    let mut long_key = 1u32.to_be_bytes().to_vec();
    long_key.extend_from_slice(&[OP_PUT, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        decode_records(&long_key),
        Err(DecodeError::TooLarge { what: "record key", .. })
    ));
    let claims = u32::MAX.to_be_bytes();
    assert!(matches!(decode_records(&claims), Err(DecodeError::Malformed { .. })));
}

#[test]
fn key_text_round_trips_and_names_damage() {
    let text = KEY.to_text();
    assert_eq!(decode_key_text(text.as_bytes()).unwrap(), KEY);
    let flipped = text.replacen('0', "1", 1);
    assert!(matches!(
        decode_key_text(flipped.as_bytes()),
        Err(KeyTextError::Damaged(_))
    ));
    assert_eq!(decode_key_text(b"hello"), Err(KeyTextError::NotArmored));
    assert!(!format!("{KEY:?}").contains("0707"));
}

#[test]
fn the_schedule_runs_daily_with_a_weekly_full_on_a_virtual_clock() {
    let plan = Plan {
        daily_at: 2 * 60 + 30,
        full_on: Weekday::Sun,
    };
    // 2026-11-29 is a Sunday.
    let sunday = 1_795_910_400;
    assert_eq!(Weekday::of(sunday), Weekday::Sun);
    let mut done = Done::default();
    // Nothing done yet: a full backup is due at once, even before 02:30.
    assert_eq!(schedule::due(&plan, &done, sunday + 60), Some(Kind::Full));
    let mut made = Vec::new();
    // Run a virtual week and a half, checking every 10 minutes.
    let mut t = sunday + 60;
    while t < sunday + 10 * DAY_SECS {
        if let Some(kind) = schedule::due(&plan, &done, t) {
            made.push((kind, (t - sunday) / 60));
            done.any = Some(t);
            if kind == Kind::Full {
                done.full = Some(t);
            }
        }
        t += 600;
    }
    let fulls: Vec<u64> = made.iter().filter(|m| m.0 == Kind::Full).map(|m| m.1).collect();
    // At first start (a catch-up: nothing was ever backed up), at that
    // Sunday's 02:30 slot, and on the next Sunday (7 days = 10080 min),
    // each at the first check after the slot.
    assert_eq!(fulls, vec![1, 151, 10_231], "{made:?}");
    let incr: Vec<u64> = made.iter().filter(|m| m.0 == Kind::Incremental).map(|m| m.1).collect();
    // Monday to Saturday, then Monday and Tuesday.
    let days: Vec<u64> = incr.iter().map(|m| m / 1440).collect();
    assert_eq!(days, vec![1, 2, 3, 4, 5, 6, 8, 9], "{made:?}");
    assert!(incr.iter().all(|m| m % 1440 == 151), "{made:?}");
    // A failure waits an hour before the retry.
    let monday_slot = sunday + DAY_SECS + 150 * 60;
    let sunday_full = sunday + 150 * 60 + 60;
    let done = Done {
        any: Some(sunday_full),
        full: Some(sunday_full),
        failed: Some(monday_slot + 10),
    };
    assert_eq!(schedule::due(&plan, &done, monday_slot + 600), None);
    assert_eq!(
        schedule::due(&plan, &done, monday_slot + 10 + RETRY_SECS),
        Some(Kind::Incremental)
    );
    // Off for two weeks: one full backup catches up, not fourteen.
    let done = Done {
        any: Some(sunday),
        full: Some(sunday),
        failed: None,
    };
    assert_eq!(schedule::due(&plan, &done, sunday + 15 * DAY_SECS), Some(Kind::Full));
    assert_eq!(schedule::parse_time_of_day("02:30"), Some(150));
    assert_eq!(schedule::parse_time_of_day("24:00"), None);
    assert_eq!(Weekday::parse("Sunday"), Some(Weekday::Sun));
    assert_eq!(Weekday::parse("sun"), Some(Weekday::Sun));
    assert_eq!(Weekday::parse("sunny"), None);
}

use schedule::{DAY_SECS, RETRY_SECS};

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_records(&bytes);
        let _ = decode_manifest_body(&bytes);
        let _ = decode_manifest(&bytes, &KEY);
        let _ = open_segment(&bytes, &KEY, at(0, 0));
        let _ = decode_key_text(&bytes);
    }

    #[test]
    fn mutated_files_are_refused_never_misread(
        rows in proptest::collection::vec((0u8..7, proptest::collection::vec(any::<u8>(), 0..40), proptest::collection::vec(any::<u8>(), 0..200)), 1..20),
        flip in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let rows: Vec<(Space, Vec<u8>, Vec<u8>)> = rows.into_iter().map(|(s, k, v)| (Space::from_code(s).unwrap(), k, v)).collect();
        let refs: Vec<(Space, &[u8], &[u8])> = rows.iter().map(|(s, k, v)| (*s, k.as_slice(), v.as_slice())).collect();
        let (segs, _, _) = backup(&State::default(), &refs);
        let sealed = seal_segment(&KEY, at(0, 0), &segs[0], [1; 24]);
        let records = open_segment(&sealed, &KEY, at(0, 0)).unwrap();
        prop_assert_eq!(decode_records(&segs[0]).unwrap(), records);
        let mut bad = sealed.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0x40;
        prop_assert!(open_segment(&bad, &KEY, at(0, 0)).is_err());
        prop_assert!(open_segment(&sealed[..cut.index(sealed.len())], &KEY, at(0, 0)).is_err());
        // The plaintext decoder alone: mutation may decode, but never panics.
        let mut plain = segs[0].clone();
        let i = flip.index(plain.len());
        plain[i] ^= 0x40;
        let _ = decode_records(&plain);
        let _ = decode_records(&segs[0][..cut.index(segs[0].len())]);
    }
}
