use super::*;
use proptest::prelude::*;

const ANA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn task(id: &str, title: &str) -> Edit {
    Edit::CreateTask {
        id: id.to_owned(),
        title: title.to_owned(),
        description: String::new(),
        assignees: Vec::new(),
        deadline: None,
        priority: Priority::Normal,
        labels: Vec::new(),
        column: None,
        created_by: ANA.to_owned(),
        created_at: 100,
    }
}

fn mv(task: &str, column: &str, position: Option<usize>) -> Edit {
    Edit::Move {
        task: task.to_owned(),
        column: column.to_owned(),
        position,
    }
}

fn titles(view: &BoardView, column: usize) -> Vec<String> {
    view.columns[column].cards.iter().map(|c| c.title.clone()).collect()
}

#[test]
fn order_keys_sort_between_their_neighbours() {
    let first = key_between("", None);
    let mut keys = vec![first];
    for _ in 0..200 {
        let k = key_between("", Some(&keys[0]));
        assert!(k.as_str() < keys[0].as_str() && !k.ends_with('0'), "{k}");
        keys.insert(0, k);
        let last = keys.last().expect("keys").clone();
        let k = key_between(&last, None);
        assert!(k > last);
        keys.push(k);
        let (a, b) = (keys[1].clone(), keys[2].clone());
        let k = key_between(&a, Some(&b));
        assert!(a < k && k < b, "{a} < {k} < {b}");
        keys.insert(2, k);
    }
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert!(keys.iter().all(|k| k.len() < 64));
}

#[test]
fn create_move_update_and_comment() {
    let (mut b, _) = Board::create(b"aaaa", "Launch").expect("create");
    let view = b.view(0);
    assert_eq!(view.name, "Launch");
    let names: Vec<&str> = view.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["To do", "In progress", "Done"]);

    b.apply(&[task("t1", "Write plan"), task("t2", "Book room"), task("t3", "Invite")])
        .expect("create tasks")
        .expect("a change");
    assert_eq!(titles(&b.view(0), 0), ["Write plan", "Book room", "Invite"]);

    // By name, any case, at the top.
    b.apply(&[mv("t3", "to DO", Some(0))]).expect("move to the top");
    assert_eq!(titles(&b.view(0), 0), ["Invite", "Write plan", "Book room"]);
    b.apply(&[mv("t2", "in_progress", None)]).expect("move");
    let view = b.view(0);
    assert_eq!(titles(&view, 1), ["Book room"]);
    assert_eq!(view.task("t2").expect("t2").status, Status::InProgress);
    b.apply(&[mv("t1", "todo", Some(1))]).expect("move within the column");
    assert_eq!(titles(&b.view(0), 0), ["Invite", "Write plan"]);

    b.apply(&[Edit::Update {
        task: "t1".to_owned(),
        title: Some("Write the plan".to_owned()),
        description: Some("Two pages.\nNo more.".to_owned()),
        assignees: Some(vec![ANA.to_owned()]),
        deadline: Some(500),
        clear_deadline: false,
        priority: Some(Priority::Urgent),
        labels: Some(vec!["q3".to_owned(), "board".to_owned()]),
        links: Some(vec!["00ff".to_owned()]),
    }])
    .expect("update");
    b.apply(&[
        Edit::AddComment {
            task: "t1".to_owned(),
            author: ANA.to_owned(),
            at: 7,
            text: "Started".to_owned(),
        },
        Edit::AddItem {
            task: "t1".to_owned(),
            id: "i1".to_owned(),
            text: "Outline".to_owned(),
        },
        Edit::CheckItem {
            task: "t1".to_owned(),
            item: "1".to_owned(),
            done: true,
        },
    ])
    .expect("comment and checklist");
    let view = b.view(0);
    let t = view.task("t1").expect("t1");
    assert_eq!(t.title, "Write the plan");
    assert_eq!(t.assignees, [ANA]);
    assert_eq!(t.labels, ["board", "q3"]);
    assert_eq!(t.links, ["00ff"]);
    assert_eq!(t.priority, Priority::Urgent);
    assert_eq!(t.deadline, Some(500));
    assert_eq!(t.comments[0].text, "Started");
    assert!(t.checklist[0].done);
    assert_eq!(t.created_by, ANA);

    b.apply(&[
        Edit::AddColumn {
            id: "review".to_owned(),
            name: "Review".to_owned(),
            status: Status::InProgress,
        },
        Edit::RenameColumn {
            column: "Review".to_owned(),
            name: "QA".to_owned(),
        },
        mv("t1", "qa", None),
    ])
    .expect("column edits");
    let view = b.view(0);
    assert_eq!(view.columns[3].name, "QA");
    assert_eq!(titles(&view, 3), ["Write the plan"]);

    // Saved and loaded, the same board.
    let bytes = b.save();
    let loaded = Board::load(b"bbbb", &bytes).expect("load");
    assert_eq!(loaded.view(0), view);
}

#[test]
fn the_library_opens_a_board_as_a_board() {
    let (_, first) = Board::create(b"aaaa", "Launch").expect("create");
    assert_eq!(
        crate::kind_of_changes(std::slice::from_ref(&first)).expect("kind"),
        crate::DocKind::Board
    );
    let m = crate::Model::from_changes(b"bbbb", [first]).expect("open");
    assert_eq!(m.kind(), crate::DocKind::Board);
    assert_eq!(m.name(), "Launch");
    assert!(!m.trashed() && !m.deleted());
}

#[test]
fn a_deadline_can_be_cleared() {
    let (mut b, _) = Board::create(b"aaaa", "P").expect("create");
    b.apply(&[task("t1", "One")]).expect("create");
    let clear = |set: Option<i64>, clear: bool| Edit::Update {
        task: "t1".to_owned(),
        title: None,
        description: None,
        assignees: None,
        deadline: set,
        clear_deadline: clear,
        priority: None,
        labels: None,
        links: None,
    };
    b.apply(&[clear(None, true)]).expect("clearing nothing is fine");
    b.apply(&[clear(Some(9), false)]).expect("set");
    assert_eq!(b.view(0).task("t1").expect("t1").deadline, Some(9));
    b.apply(&[clear(None, true)]).expect("clear");
    assert_eq!(b.view(0).task("t1").expect("t1").deadline, None);
}

#[test]
fn overdue_is_derived_from_the_deadline_and_now() {
    let (mut b, _) = Board::create(b"aaaa", "P").expect("create");
    let mut t = task("t1", "Report");
    if let Edit::CreateTask { deadline, .. } = &mut t {
        *deadline = Some(1000);
    }
    b.apply(&[t, task("t2", "No deadline")]).expect("create");
    assert!(!b.view(999).task("t1").expect("t1").overdue);
    assert!(b.view(1001).task("t1").expect("t1").overdue);
    assert!(!b.view(1001).task("t2").expect("t2").overdue);
    b.apply(&[mv("t1", "Done", None)]).expect("move");
    assert!(!b.view(1001).task("t1").expect("t1").overdue, "done is never overdue");
}

#[test]
fn bad_edits_are_refused_and_change_nothing() {
    let (mut b, _) = Board::create(b"aaaa", "P").expect("create");
    b.apply(&[task("t1", "One")]).expect("create");
    let before = b.save();
    let cases: Vec<(Vec<Edit>, &str)> = vec![
        (vec![mv("nope", "Done", None)], "no task"),
        (vec![mv("t1", "Later", None)], "no column"),
        (vec![task("t2", "  ")], "empty"),
        (vec![task("t1", "Again")], "taken"),
        (vec![task("t 2", "x")], "letters, digits"),
        (vec![task("t2", &"x".repeat(TITLE_BYTES_MAX + 1))], "limit"),
        (vec![mv("t1", "Done", Some(5))], "past the end"),
        // A good edit followed by a bad one: neither is kept.
        (vec![task("t3", "Fine"), mv("t3", "Nowhere", None)], "no column"),
        (
            vec![Edit::Update {
                task: "t1".to_owned(),
                title: None,
                description: None,
                assignees: Some(vec!["Ana".to_owned()]),
                deadline: None,
                clear_deadline: false,
                priority: None,
                labels: None,
                links: None,
            }],
            "member key",
        ),
        (
            vec![Edit::AddComment {
                task: "t1".to_owned(),
                author: ANA.to_owned(),
                at: 1,
                text: "x".repeat(COMMENT_BYTES_MAX + 1),
            }],
            "limit",
        ),
        (
            vec![Edit::CheckItem {
                task: "t1".to_owned(),
                item: "3".to_owned(),
                done: true,
            }],
            "no checklist item",
        ),
    ];
    for (edits, want) in cases {
        let e = b.apply(&edits).expect_err("refused");
        assert!(e.to_string().contains(want), "{e} should say {want:?}");
        assert_eq!(b.save(), before, "nothing changed after {edits:?}");
    }
    assert!(b.view(0).task("t3").is_none());
}

#[test]
fn edits_read_as_json() {
    let e: Edit = serde_json::from_str(r#"{"op":"move","task":"t1","column":"Done"}"#).expect("json");
    assert_eq!(e, mv("t1", "Done", None));
    let e: Edit = serde_json::from_str(r#"{"op":"create_task","id":"","title":"x","priority":"high"}"#).expect("json");
    let mut e = e;
    e.fill_ids(|| "abc".to_owned());
    assert!(matches!(e, Edit::CreateTask { id, priority: Priority::High, .. } if id == "abc"));
}

#[test]
fn concurrent_moves_of_one_card_end_in_one_place() {
    let (mut a, first) = Board::create(b"aaaa", "P").expect("create");
    let add = a.apply(&[task("t1", "Card")]).expect("add").expect("change");
    let mut b = Board::from_changes(b"bbbb", [first.clone(), add.clone()]).expect("b");
    let ca = a
        .apply(&[mv("t1", "In progress", None)])
        .expect("a moves")
        .expect("change");
    let cb = b.apply(&[mv("t1", "Done", None)]).expect("b moves").expect("change");
    a.apply_changes([cb]).expect("a gets b's move");
    b.apply_changes([ca]).expect("b gets a's move");
    let (va, vb) = (a.view(0), b.view(0));
    assert_eq!(va, vb);
    let cards: usize = va.columns.iter().map(|c| c.cards.len()).sum();
    assert_eq!(cards, 1, "one card, in one column");
    assert_eq!(a.save(), b.save());
}

/// A random edit of a board with tasks t0..t3 and the default columns.
fn edit_strategy() -> impl Strategy<Value = Edit> {
    let task_id = (0..4u8).prop_map(|i| format!("t{i}"));
    let column = prop::sample::select(vec!["todo", "in_progress", "done", "Done", "nope"]);
    prop_oneof![
        (task_id.clone(), column, prop::option::of(0..3usize)).prop_map(|(t, c, p)| mv(&t, c, p)),
        (task_id.clone(), "[a-z]{1,6}").prop_map(|(t, title)| Edit::Update {
            task: t,
            title: Some(title),
            description: None,
            assignees: None,
            deadline: None,
            clear_deadline: false,
            priority: None,
            labels: Some(vec!["x".to_owned()]),
            links: None,
        }),
        (task_id.clone(), "[a-z ]{1,8}").prop_map(|(t, text)| Edit::AddComment {
            task: t,
            author: ANA.to_owned(),
            at: 1,
            text,
        }),
        (0..1000u32, "[a-z]{1,6}").prop_map(|(n, title)| task(&format!("n{n}"), &title)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Replicas that edit concurrently (moves of the same cards included)
    /// and exchange their changes in any order save the same bytes and
    /// show the same board.
    #[test]
    fn concurrent_edits_converge(
        rounds in prop::collection::vec(prop::collection::vec((0..3usize, edit_strategy()), 1..6), 1..4),
        shuffle in any::<u64>(),
    ) {
        let (mut seed, first) = Board::create(b"seed", "P").expect("create");
        let setup = seed
            .apply(&(0..4).map(|i| task(&format!("t{i}"), "T")).collect::<Vec<_>>())
            .expect("setup")
            .expect("change");
        let actors: [&[u8]; 3] = [b"r0r0", b"r1r1", b"r2r2"];
        let mut replicas: Vec<Board> = actors
            .iter()
            .map(|a| Board::from_changes(a, [first.clone(), setup.clone()]).expect("replica"))
            .collect();
        let mut all: Vec<Vec<u8>> = Vec::new();
        for round in rounds {
            // Each replica edits on its own, then all changes so far are
            // delivered to everyone, in an order that differs per replica.
            for (who, edit) in round {
                if let Ok(Some(c)) = replicas[who].apply(&[edit]) {
                    all.push(c);
                }
            }
            for (i, r) in replicas.iter_mut().enumerate() {
                let mut order: Vec<Vec<u8>> = all.clone();
                let n = order.len();
                if n > 1 {
                    let k = (shuffle.rotate_left(i as u32 * 7) as usize) % n;
                    order.rotate_left(k);
                    if i % 2 == 1 {
                        order.reverse();
                    }
                }
                r.apply_changes(order).expect("apply");
            }
        }
        let saved: Vec<Vec<u8>> = replicas.iter_mut().map(Board::save).collect();
        prop_assert_eq!(&saved[0], &saved[1]);
        prop_assert_eq!(&saved[1], &saved[2]);
        let views: Vec<BoardView> = replicas.iter().map(|r| r.view(50)).collect();
        prop_assert_eq!(&views[0], &views[1]);
        prop_assert_eq!(&views[1], &views[2]);
        let cards: usize = views[0].columns.iter().map(|c| c.cards.len()).sum();
        prop_assert_eq!(cards, views[0].columns.iter().flat_map(|c| &c.cards).map(|c| &c.id).collect::<BTreeSet<_>>().len());
        // Rebuilt from all changes in canonical order: the same again.
        let mut rebuilt = Board::from_changes(b"zzzz", [first, setup].into_iter().chain(all)).expect("rebuild");
        prop_assert_eq!(&rebuilt.save(), &saved[0]);
    }
}
