//! `outpost doc ...`, `outpost space ...` and `outpost file ...`: the
//! library of documents and files, through the running node or, when none
//! runs, on the store.

use crate::flags::{DocCommand, FileCommand, PlaceArgs, SpaceCommand};
use crate::io::Ctx;
use anyhow::{Context, Result};
use outpost_identity::Timestamp;
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::library::{FileUpload, LibraryRequest, MetaChange, Place};
use serde_json::Value;

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: LibraryRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/library", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::library::handle(&mut local, &ctx.pass, req)
        }
    }
}

/// Carries out `req` and prints `render` of the answer (or the JSON).
fn answer(ctx: &Ctx, req: LibraryRequest, render: impl FnOnce(&Value) -> String) -> Result<()> {
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

fn place(p: PlaceArgs) -> Place {
    Place {
        space: p.space,
        dept: p.scope,
        folder: p.folder,
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

fn changed(v: &Value, what: &str) -> String {
    if v["changed"] == true {
        format!("{what}: change {}\n", short(s(v, "change")))
    } else {
        "nothing to change\n".to_owned()
    }
}

/// A JSON list of strings, comma-separated.
fn joined(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn time(v: &Value) -> String {
    Timestamp(v.as_u64().unwrap_or_default()).to_utc_string()
}

/// A listing of library entries.
fn listing(v: &Value, folder: Option<&str>, only_files: bool) -> Value {
    let rows = v
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| !only_files || e["kind"] == "file")
        .filter(|e| {
            folder.is_none_or(|f| {
                let have = e["folder"].as_str().unwrap_or_default();
                have == f || have.starts_with(&format!("{f}/"))
            })
        })
        .cloned()
        .collect();
    Value::Array(rows)
}

fn listing_text(rows: &Value) -> String {
    let mut text = format!(
        "{:<32}  {:<4}  {:<30}  {:<20}  {:<20}  {}\n",
        "ID", "KIND", "TITLE", "SPACE", "FOLDER", "UPDATED"
    );
    for e in rows.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "{}  {:<4}  {:<30}  {:<20}  {:<20}  {}\n",
            s(e, "id"),
            s(e, "kind"),
            s(e, "title"),
            e["space"]["name"].as_str().unwrap_or_default(),
            s(e, "folder"),
            time(&e["updated"])
        ));
    }
    text
}

pub fn run(ctx: &Ctx, cmd: DocCommand) -> Result<()> {
    match cmd {
        DocCommand::New {
            title,
            place: p,
            readers,
            writers,
            markdown,
        } => {
            let markdown = markdown
                .map(|f| std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display())))
                .transpose()?;
            let req = LibraryRequest::New {
                title,
                place: place(p),
                markdown,
                readers,
                writers,
            };
            answer(ctx, req, |v| {
                format!(
                    "created document {} \"{}\" in space {}\n",
                    s(v, "id"),
                    s(v, "title"),
                    s(v, "space_name")
                )
            })
        }
        DocCommand::Edit { id, set_text, append } => answer(
            ctx,
            LibraryRequest::Edit {
                id: id.clone(),
                set_text,
                append,
            },
            |v| {
                if v["changed"] == true {
                    format!("saved change {} to document {id}\n", short(s(v, "change")))
                } else {
                    "no change: the text is already that\n".to_owned()
                }
            },
        ),
        DocCommand::Show { id, at } => answer(ctx, LibraryRequest::Show { id, at }, |v| {
            if v["kind"] == "file" {
                let mut text = format!("{} (file)\n", s(v, "title"));
                for (i, ver) in v["versions"].as_array().into_iter().flatten().enumerate() {
                    text.push_str(&format!("  {}  {} bytes  {}\n", i + 1, ver["bytes"], time(&ver["at"])));
                }
                text
            } else {
                format!("# {}\n\n{}\n", s(v, "title"), s(v, "markdown"))
            }
        }),
        DocCommand::History { id } => answer(ctx, LibraryRequest::History { id }, |v| {
            let mut text = String::new();
            for e in v.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "{}  {}  {:<20}  {}\n",
                    short(s(e, "change")),
                    time(&e["time"]),
                    s(e, "author"),
                    s(e, "summary")
                ));
            }
            text
        }),
        DocCommand::Diff { id, from, to } => answer(ctx, LibraryRequest::Diff { id, from, to }, |v| {
            let mut text = String::new();
            for line in v.as_array().into_iter().flatten() {
                let sign = match s(line, "change") {
                    "added" => "+",
                    "removed" => "-",
                    _ => " ",
                };
                text.push_str(&format!("{sign} {}\n", s(line, "text")));
            }
            text
        }),
        DocCommand::Restore { id, version } => answer(ctx, LibraryRequest::Restore { id, at: version }, |v| {
            changed(v, "restored")
        }),
        DocCommand::Version { id, name, at } => answer(ctx, LibraryRequest::NameVersion { id, name, at }, |v| {
            changed(v, "named")
        }),
        DocCommand::List { trash, folder } => {
            let v = call(ctx, LibraryRequest::List { trash })?;
            let rows = listing(&v, folder.as_deref(), false);
            ctx.print(listing_text(&rows), rows);
            Ok(())
        }
        DocCommand::Rename { id, title } => {
            let change = MetaChange {
                title: Some(title),
                ..MetaChange::default()
            };
            answer(ctx, LibraryRequest::Meta { id, change }, |v| changed(v, "renamed"))
        }
        DocCommand::Mv { id, folder, space } => answer(ctx, LibraryRequest::Move { id, space, folder }, |v| {
            format!("moved: {} in space {}\n", s(v, "id"), short(s(v, "space")))
        }),
        DocCommand::Trash { id } => {
            let change = MetaChange {
                trashed: Some(true),
                ..MetaChange::default()
            };
            answer(ctx, LibraryRequest::Meta { id, change }, |v| {
                changed(v, "moved to the trash")
            })
        }
        DocCommand::Untrash { id } => {
            let change = MetaChange {
                trashed: Some(false),
                ..MetaChange::default()
            };
            answer(ctx, LibraryRequest::Meta { id, change }, |v| {
                changed(v, "restored from the trash")
            })
        }
        DocCommand::Delete { id } => answer(ctx, LibraryRequest::Delete { id }, |v| changed(v, "deleted for good")),
        DocCommand::Share { id, readers, writers } => {
            answer(ctx, LibraryRequest::Share { id, readers, writers }, |v| {
                format!("shared: {} in space {}\n", s(v, "id"), short(s(v, "space")))
            })
        }
        DocCommand::Export { id, format, out } => {
            let out = absolute(&out)?;
            answer(ctx, LibraryRequest::Export { id, format, out }, |v| {
                format!("wrote {} ({} bytes)\n", s(v, "out"), v["bytes"])
            })
        }
        DocCommand::Import { id, file } => {
            let markdown = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            answer(ctx, LibraryRequest::Import { id, markdown }, |v| changed(v, "imported"))
        }
    }
}

/// `path` made absolute (the running node resolves paths from its own
/// working directory).
fn absolute(path: &std::path::Path) -> Result<String> {
    Ok(std::path::absolute(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?
        .to_string_lossy()
        .into_owned())
}

pub fn space(ctx: &Ctx, cmd: SpaceCommand) -> Result<()> {
    match cmd {
        SpaceCommand::List => answer(ctx, LibraryRequest::Spaces, |v| {
            let mut text = format!("{:<16}  {:<24}  {:<30}  {}\n", "ID", "NAME", "WRITERS", "READERS");
            for sp in v.as_array().into_iter().flatten() {
                let join = |k: &str| joined(&sp[k]);
                text.push_str(&format!(
                    "{}  {:<24}  {:<30}  {}\n",
                    short(s(sp, "id")),
                    s(sp, "name"),
                    join("writers"),
                    join("readers")
                ));
            }
            text
        }),
        SpaceCommand::History { space } => answer(ctx, LibraryRequest::SpaceHistory { space }, |v| {
            let mut text = String::new();
            for e in v.as_array().into_iter().flatten() {
                let join = |k: &str| joined(&e[k]);
                text.push_str(&format!(
                    "{}  {:<8}  {:<20}  writers {}  readers {}{}\n",
                    short(s(e, "op")),
                    s(e, "what"),
                    s(e, "by"),
                    join("writers"),
                    join("readers"),
                    if e["in_force"] == true { "  (in force)" } else { "" }
                ));
            }
            text
        }),
        SpaceCommand::Create { name, readers, writers } => {
            answer(ctx, LibraryRequest::CreateSpace { name, readers, writers }, |v| {
                format!("created space {} \"{}\"\n", short(s(v, "id")), s(v, "name"))
            })
        }
        SpaceCommand::Share {
            space,
            readers,
            writers,
        } => answer(
            ctx,
            LibraryRequest::ShareSpace {
                space,
                readers,
                writers,
            },
            |v| {
                format!(
                    "space {} reshared: new key epoch {}\n",
                    short(s(v, "space")),
                    short(s(v, "epoch"))
                )
            },
        ),
    }
}

pub fn file(ctx: &Ctx, cmd: FileCommand) -> Result<()> {
    match cmd {
        FileCommand::Put { path, place: p, to } => {
            let sealed = crate::chat::seal_file(ctx, &path)?;
            let req = LibraryRequest::PutFile(FileUpload {
                path: absolute(&path)?,
                sealed: Some(sealed),
                place: place(p),
                to,
            });
            answer(ctx, req, |v| {
                format!(
                    "stored {} ({} bytes) as file {}\n",
                    v["version"]["name"].as_str().unwrap_or_default(),
                    v["version"]["bytes"],
                    s(v, "id")
                )
            })
        }
        FileCommand::Get { id, out, version } => {
            let out = absolute(&out)?;
            let req = LibraryRequest::SaveFile {
                id: id.clone(),
                version,
                out,
            };
            let v = match ApiClient::running(ctx.home.dir()) {
                Some(api) => save_with_progress(ctx, &api, &id, version, &req)?,
                // Without a node, only what this home holds can be saved.
                None => call(ctx, req)?,
            };
            ctx.print(format!("wrote {} ({} bytes)\n", s(&v, "out"), v["bytes"]), v);
            Ok(())
        }
        FileCommand::Ls { folder } => {
            let v = call(ctx, LibraryRequest::List { trash: false })?;
            let rows = listing(&v, folder.as_deref(), true);
            ctx.print(listing_text(&rows), rows);
            Ok(())
        }
        FileCommand::Versions { id } => {
            let v = call(ctx, LibraryRequest::Show { id, at: None })?;
            let versions = v["versions"].clone();
            let mut text = String::new();
            for (i, ver) in versions.as_array().into_iter().flatten().enumerate() {
                text.push_str(&format!(
                    "{:>3}  {:<30}  {:>12} bytes  {}  {}\n",
                    i + 1,
                    s(ver, "name"),
                    ver["bytes"],
                    time(&ver["at"]),
                    short(s(ver, "by"))
                ));
            }
            ctx.print(text, versions);
            Ok(())
        }
    }
}

/// Has the running node fetch a file from its peers and write it (`req`,
/// a `SaveFile`), with a progress bar of how much of it the node holds
/// meanwhile (`GET /api/files/{id}/held`).
fn save_with_progress(
    ctx: &Ctx,
    api: &ApiClient,
    id: &str,
    version: Option<usize>,
    req: &LibraryRequest,
) -> Result<Value> {
    use indicatif::{ProgressBar, ProgressStyle};
    let body = serde_json::to_value(req)?;
    let poster = api.clone();
    let job = std::thread::spawn(move || poster.post("/api/library", &body));
    // An id is hex; anything else is left to the request to refuse.
    let plain = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    let bar = if ctx.json || !plain {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("fetching {msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("the template is valid"),
    );
    let held = format!(
        "/api/files/{id}/held{}",
        version.map(|v| format!("?version={v}")).unwrap_or_default()
    );
    let mut next = std::time::Instant::now();
    while !job.is_finished() {
        if plain && std::time::Instant::now() >= next {
            if let Ok(h) = api.get(&held) {
                bar.set_message(s(&h, "name").to_owned());
                bar.set_length(h["bytes"].as_u64().unwrap_or(0));
                bar.set_position(h["held"].as_u64().unwrap_or(0));
            }
            next = std::time::Instant::now() + std::time::Duration::from_millis(200);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bar.finish_and_clear();
    job.join()
        .map_err(|_| anyhow::anyhow!("the request to the node failed unexpectedly"))?
}
