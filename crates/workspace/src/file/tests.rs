use super::*;
use proptest::prelude::*;

fn version(n: u8, name: &str, by: &str) -> FileVersion {
    FileVersion {
        file: Attachment {
            blob: [n; 32],
            key: [n.wrapping_add(100); 32],
            name: name.to_owned(),
            bytes: u64::from(n) * 1000,
            media_type: "application/pdf".to_owned(),
        },
        at: i64::from(n),
        by: by.to_owned(),
    }
}

#[test]
fn versions_names_and_folders() {
    let (mut f, first) = FileDoc::create(b"aaaa", version(1, "report.pdf", "Ana"), "Finance/2025").expect("create");
    assert_eq!(f.name(), "report.pdf");
    assert_eq!(f.folder(), "Finance/2025");
    assert_eq!(f.versions(), vec![version(1, "report.pdf", "Ana")]);
    let c2 = f
        .add_version(version(2, "report-v2.pdf", "Bo"))
        .expect("add")
        .expect("a change");
    assert_eq!(f.current(), Some(version(2, "report-v2.pdf", "Bo")));
    assert_eq!(f.name(), "report.pdf");
    let c3 = f.rename("Q3 report.pdf").expect("rename").expect("a change");
    assert!(f.rename("Q3 report.pdf").expect("rename").is_none());
    assert!(f.set_folder("Finance/2025").expect("folder").is_none());
    assert!(f.set_trashed(true).expect("trash").is_some());
    assert!(f.trashed());

    let mut again = FileDoc::from_changes(b"bbbb", [c3, c2, first]).expect("rebuild");
    assert_eq!(again.name(), "Q3 report.pdf");
    assert_eq!(again.versions().len(), 2);
    assert!(!again.trashed());
    let mut loaded = FileDoc::load(b"cccc", &f.save()).expect("load");
    assert_eq!(loaded.versions(), f.versions());
    assert!(loaded.trashed());
    assert_eq!(loaded.heads(), f.heads());
    assert_ne!(again.heads(), f.heads());
}

#[test]
fn bad_input_is_refused() {
    assert!(matches!(
        FileDoc::create(b"a", version(1, "", "Ana"), ""),
        Err(DocError::BadName { .. })
    ));
    assert!(matches!(
        FileDoc::create(b"a", version(1, "a\nb", "Ana"), ""),
        Err(DocError::BadName { .. })
    ));
    assert!(matches!(
        FileDoc::create(b"a", version(1, "a.txt", "Ana"), "a//b"),
        Err(DocError::BadFolder(..))
    ));
    let (mut f, _) = FileDoc::create(b"a", version(1, "a.txt", "Ana"), "").expect("create");
    let heads = f.heads();
    assert!(f.rename(&"x".repeat(300)).is_err());
    assert!(f.add_version(version(2, "", "Bo")).is_err());
    assert!(f.set_folder("/x").is_err());
    assert_eq!(f.heads(), heads);
    assert!(matches!(
        FileDoc::from_changes(b"a", [b"junk".to_vec()]),
        Err(DocError::BadChange(_))
    ));
}

#[test]
fn concurrent_uploads_are_both_kept_in_the_same_order_everywhere() {
    let (_, first) = FileDoc::create(b"aaaa", version(1, "logo.png", "Ana"), "Brand").expect("create");
    let mut a = FileDoc::from_changes(b"aaaa", [first.clone()]).expect("rebuild");
    let mut b = FileDoc::from_changes(b"bbbb", [first.clone()]).expect("rebuild");
    let ca = a
        .add_version(version(2, "logo-a.png", "Ana"))
        .expect("add")
        .expect("a change");
    let cb = b
        .add_version(version(3, "logo-b.png", "Bo"))
        .expect("add")
        .expect("a change");
    let ra = b.rename("Logo.png").expect("rename").expect("a change");
    a.apply_changes([cb.clone(), ra.clone()]).expect("apply");
    b.apply_changes([ca.clone()]).expect("apply");
    assert_eq!(a.versions().len(), 3);
    assert_eq!(a.versions(), b.versions());
    assert_eq!(a.versions()[0], version(1, "logo.png", "Ana"));
    assert_eq!(a.name(), "Logo.png");
    assert_eq!(a.save(), b.save());
    let c = FileDoc::from_changes(b"cccc", [ra, cb, ca, first]).expect("rebuild");
    assert_eq!(c.versions(), a.versions());
}

#[test]
fn permanent_deletion_drops_the_versions() {
    let (mut a, first) = FileDoc::create(b"aaaa", version(1, "secret.pdf", "Ana"), "").expect("create");
    a.add_version(version(2, "secret2.pdf", "Ana")).expect("add");
    let mut b = FileDoc::load(b"bbbb", &a.save()).expect("load");
    let late = b
        .add_version(version(3, "late.pdf", "Bo"))
        .expect("add")
        .expect("a change");
    let del = a.delete_permanently().expect("delete").expect("a change");
    assert!(a.deleted());
    assert_eq!(a.name(), "");
    assert!(a.versions().is_empty());
    assert!(a.current().is_none());
    let list = a.versions_list().expect("the list");
    assert_eq!(a.doc.length(&list), 0);
    assert!(matches!(
        a.add_version(version(4, "x.pdf", "Ana")),
        Err(DocError::Deleted)
    ));
    assert!(matches!(a.rename("x"), Err(DocError::Deleted)));
    assert_eq!(a.delete_permanently().expect("delete"), None);
    // An upload made concurrently does not bring anything back.
    a.apply_changes([late]).expect("apply");
    assert!(a.versions().is_empty());
    b.apply_changes([del]).expect("apply");
    assert!(b.versions().is_empty());
    drop(first);
}

proptest! {
    #[test]
    fn replicas_agree_on_versions(
        uploads in proptest::collection::vec((0usize..3, 0u8..50), 1..12),
        order in any::<u64>(),
    ) {
        let (_, first) = FileDoc::create(b"genesis0", version(0, "f.bin", "x"), "").expect("create");
        let mut docs: Vec<FileDoc> = (0..3)
            .map(|i| FileDoc::from_changes(format!("replica{i}").as_bytes(), [first.clone()]).expect("rebuild"))
            .collect();
        let mut changes = vec![first];
        for (r, n) in uploads {
            let c = docs[r].add_version(version(n, "f.bin", "x")).expect("add").expect("a change");
            changes.push(c);
        }
        let mut shuffled = changes.clone();
        // A cheap deterministic shuffle.
        let len = shuffled.len();
        for i in 0..len {
            let j = (order.rotate_left(i as u32) as usize) % len;
            shuffled.swap(i, j);
        }
        for d in &mut docs {
            d.apply_changes(shuffled.clone()).expect("apply");
        }
        let versions = docs[0].versions();
        prop_assert_eq!(versions.len(), changes.len());
        let saved = docs[0].save();
        for d in &mut docs {
            prop_assert_eq!(d.versions(), versions.clone());
            prop_assert!(d.save() == saved);
        }
    }
}
