//! Projects and task boards across real nodes: `outpost up` processes on
//! 127.0.0.1 talking through their HTTP APIs, and the CLI on the stores of
//! stopped nodes.
//!
//! A project of HQ/East is written by both of its members; a task made on
//! one node shows on the other's board; the same card moved to two
//! different columns on two stopped nodes ends, once they meet, in one
//! column on both, with byte-identical boards; and a member of another
//! department cannot read the board at all.

use outpost_tests::cluster::{TIMEOUT, acme, certified_in, member, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};

/// `POST /api/tasks` on `node`, which must succeed.
fn tasks(node: &RunningNode, req: Value) -> Value {
    node.post("/api/tasks", &req)
}

/// `POST /api/tasks` on `node`; errors are described.
fn try_tasks(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/tasks", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.body));
    }
    r.json()
}

/// The columns holding task `task` on `board`, by name.
fn columns_of(board: &Value, task: &str) -> Vec<String> {
    board["board"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c["cards"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["id"] == task)
                .map(move |_| c["name"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn a_project_board_converges_and_stays_inside_the_project() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let dave = certified_in(&sb, &admin, "d", "member", "HQ/West");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let d = dave.up(&[a.addr(), b.addr(), c.addr()]);
    let all = [&a, &b, &c, &d];
    wait_for_peers(&b, &[&a, &c, &d], &all);

    // Bob makes a project of his department (the default) and a task.
    let made = tasks(&b, json!({"action": "create_project", "name": "Launch"}));
    assert_eq!(made["space"]["readers"], json!(["dept:HQ/East"]), "{made}");
    let project = made["project"].as_str().expect("the project id").to_owned();
    let added = tasks(
        &b,
        json!({"action": "add", "project": "Launch", "title": "Print flyers", "assignees": ["c"],
               "due": "2030-01-01T10:00", "priority": "high", "labels": ["print"]}),
    );
    let task = added["task"].as_str().expect("the task id").to_owned();

    // Carol's node shows it, and she can write the board too.
    wait_until("c shows the task", TIMEOUT, &all, || {
        let board = try_tasks(&c, &json!({"action": "board", "project": "Launch"}))?;
        let card = &board["board"]["columns"][0]["cards"][0];
        (card["title"] == "Print flyers" && card["deadline"] == 1_893_492_000 && board["can_write"] == true)
            .then_some(())
            .ok_or_else(|| format!("board: {board}"))
    });
    tasks(&c, json!({"action": "comment", "task": &task[..8], "text": "On it"}));
    wait_until("b shows Carol's comment", TIMEOUT, &all, || {
        let shown = try_tasks(&b, &json!({"action": "show", "task": task}))?;
        (shown["task"]["comments"][0]["text"] == "On it")
            .then_some(())
            .ok_or_else(|| format!("task: {shown}"))
    });

    // Dave, of HQ/West, reads nothing of it.
    let refused = try_tasks(&d, &json!({"action": "board", "project": project})).expect_err("no board for Dave");
    assert!(refused.contains("no project"), "{refused}");
    let listed = tasks(&d, json!({"action": "list_projects"}));
    assert_eq!(listed["projects"], json!([]), "{listed}");
    assert!(try_tasks(&d, &json!({"action": "show", "task": task})).is_err());

    // Both stop; each moves the same card somewhere else, offline.
    let _ = b.terminate();
    let _ = c.terminate();
    bob.ok(["task", "move", &task, "In progress"]);
    carol.ok(["task", "move", &task, "done"]);
    let on_b = bob.json(["board", "show", "Launch"]);
    let on_c = carol.json(["board", "show", "Launch"]);
    assert_eq!(columns_of(&on_b, &task), ["In progress"]);
    assert_eq!(columns_of(&on_c, &task), ["Done"]);

    // They meet again: one card, in one column, the same board on both.
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c, &d];
    let mut boards = (Value::Null, Value::Null);
    wait_until("b and c show the same board", TIMEOUT, &all, || {
        let req = json!({"action": "board", "project": project});
        let (x, y) = (try_tasks(&b, &req)?, try_tasks(&c, &req)?);
        let (cx, cy) = (columns_of(&x, &task), columns_of(&y, &task));
        if cx.len() != 1 || cx != cy || x["board"] != y["board"] {
            return Err(format!("b: {cx:?}, c: {cy:?}"));
        }
        boards = (x, y);
        Ok(())
    });
    let column = columns_of(&boards.0, &task);
    assert!(column == ["In progress"] || column == ["Done"], "{column:?}");
    let bytes = |v: &Value| serde_json::to_vec(&v["board"]).expect("JSON");
    assert_eq!(bytes(&boards.0), bytes(&boards.1), "byte-identical boards");
}
