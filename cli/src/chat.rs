//! `outpost channel ...` and `outpost chat ...`: chat on this node.
//!
//! Each command becomes one [`ChatRequest`], answered by a running node
//! (`POST /api/chat`) or, when none runs, by the store directly; either way
//! the answer is the same JSON, printed as is with `--json` or as text by
//! the command's own formatting function.

use crate::flags::{ChannelCommand, ChatCommand};
use crate::io::Ctx;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use outpost_identity::Timestamp;
use outpost_node::api_client::ApiClient;
use outpost_node::blobs::{Blobs, FilePolicy};
use outpost_node::chat::{Audience, ChatRequest, SealedFile};
use outpost_node::{Local, now};
use serde_json::Value;
use std::fmt::Write;

/// Renders an answer as text.
type Render = Box<dyn FnOnce(&Value) -> String>;

/// `outpost channel ...`.
pub fn channel(ctx: &Ctx, cmd: ChannelCommand) -> Result<()> {
    let (req, render): (ChatRequest, Render) = match cmd {
        ChannelCommand::Create {
            name,
            dept,
            everyone,
            members,
            topic,
        } => {
            let audience = match (dept, everyone, members.is_empty()) {
                (Some(d), _, _) => Some(Audience::Dept(d)),
                (None, true, _) => Some(Audience::Everyone),
                (None, false, false) => Some(Audience::Members(members)),
                (None, false, true) => None,
            };
            (ChatRequest::Create { name, audience, topic }, Box::new(created))
        }
        ChannelCommand::Dm { member } => (ChatRequest::Direct { member }, Box::new(direct)),
        ChannelCommand::List => (ChatRequest::List, Box::new(list)),
        ChannelCommand::Join { channel } => (ChatRequest::Join { channel, on: true }, Box::new(joined)),
        ChannelCommand::Leave { channel } => (ChatRequest::Join { channel, on: false }, Box::new(joined)),
        ChannelCommand::Archive { channel, undo } => (ChatRequest::Archive { channel, on: !undo }, Box::new(archived)),
    };
    answer(ctx, req, render)
}

/// `outpost chat ...`.
pub fn chat(ctx: &Ctx, cmd: ChatCommand) -> Result<()> {
    let (req, render): (ChatRequest, Render) = match cmd {
        ChatCommand::Send {
            channel,
            text,
            reply,
            file: None,
        } => {
            let text = text.unwrap_or_default();
            (ChatRequest::Send { channel, text, reply }, Box::new(sent))
        }
        ChatCommand::Send {
            channel,
            text,
            reply,
            file: Some(file),
        } => {
            // The node may run elsewhere in the file system: an absolute path.
            let path = std::path::absolute(&file)?;
            let sealed = Some(seal_file(ctx, &path)?);
            let req = ChatRequest::SendFile {
                channel,
                path: path.to_string_lossy().into_owned(),
                text,
                reply,
                sealed,
            };
            (req, Box::new(sent))
        }
        ChatCommand::Save {
            channel,
            message,
            out,
            index,
        } => {
            let out = std::path::absolute(&out)?.to_string_lossy().into_owned();
            let req = ChatRequest::SaveFile {
                channel,
                message,
                out,
                index,
            };
            (req, Box::new(saved))
        }
        ChatCommand::Read {
            channel,
            since,
            thread,
            limit,
            peek,
        } => {
            let since = since.map(|s| parse_since(&s, now())).transpose()?;
            let req = ChatRequest::Read {
                channel,
                since,
                thread,
                limit,
                peek,
            };
            (req, Box::new(read))
        }
        ChatCommand::Edit { channel, message, text } => {
            (ChatRequest::Edit { channel, message, text }, Box::new(edited))
        }
        ChatCommand::Recall { channel, message } => (ChatRequest::Recall { channel, message }, Box::new(recalled)),
        ChatCommand::React {
            channel,
            message,
            reaction,
            off,
        } => {
            let render = reacted(&reaction, off);
            let req = ChatRequest::React {
                channel,
                message,
                reaction,
                off,
            };
            (req, render)
        }
        ChatCommand::Pin { channel, message, off } => (ChatRequest::Pin { channel, message, off }, Box::new(pinned)),
        ChatCommand::Receipts { channel, message } => (ChatRequest::Receipts { channel, message }, Box::new(receipts)),
        ChatCommand::Search { query, channel } => (ChatRequest::Search { query, channel }, Box::new(found)),
    };
    answer(ctx, req, render)
}

/// `outpost org settings`, or `outpost org set ...` when a setting is given.
pub fn org_settings(ctx: &Ctx, size: Option<String>, types: Option<Vec<String>>) -> Result<()> {
    let req = if size.is_none() && types.is_none() {
        ChatRequest::OrgSettings
    } else {
        ChatRequest::OrgSet {
            file_bytes_max: size.map(|s| parse_size(&s)).transpose()?,
            file_types: types,
        }
    };
    answer(ctx, req, Box::new(settings))
}

/// A size: bytes, or a number with KB, MB or GB (powers of 1024).
fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_uppercase();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), ""),
    };
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        _ => anyhow::bail!("cannot read the size {text:?}: write bytes, or a number with KB, MB or GB"),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("cannot read the size {text:?}: write bytes, or a number with KB, MB or GB"))?;
    n.checked_mul(1 << shift)
        .with_context(|| format!("the size {text:?} is too large"))
}

fn settings(v: &Value) -> String {
    let types: Vec<&str> = v["file_types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!(
        "largest file: {}\nfile types: {}\n",
        outpost_node::blobs::size_text(v["file_bytes_max"].as_u64().unwrap_or(0)),
        types.join(", ")
    )
}

/// Carries out `req` through the running node, or on the store when no
/// node runs, and prints the answer.
fn answer(ctx: &Ctx, req: ChatRequest, render: Render) -> Result<()> {
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: ChatRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/chat", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::chat::handle(&mut local, &ctx.pass, req)
        }
    }
}

/// Encrypts the file at `path` into this home's blobs with a progress bar,
/// after checking it against the org's limits.
pub(crate) fn seal_file(ctx: &Ctx, path: &std::path::Path) -> Result<SealedFile> {
    let settings = call(ctx, ChatRequest::OrgSettings)?;
    let policy = FilePolicy {
        bytes_max: settings["file_bytes_max"]
            .as_u64()
            .context("the node gave no file size limit")?,
        types: Some(
            settings["file_types"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    policy.media_type(&name)?;
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    policy.check_size(&name, size)?;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bar = if ctx.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(size)
    };
    bar.set_style(
        ProgressStyle::with_template("encrypting {msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("the template is valid"),
    );
    bar.set_message(name);
    let (blob, key, _) =
        Blobs::new(ctx.home.dir()).add_with_progress(&mut file, &policy, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    Ok(SealedFile {
        blob: hex::encode(blob.0),
        key: hex::encode(key.bytes()),
    })
}

/// `--since`: seconds since 1970, or a duration (`2h`) meaning that long
/// before `now`.
fn parse_since(text: &str, now: Timestamp) -> Result<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .with_context(|| format!("--since {text}: not a time in seconds since 1970"));
    }
    let ago = outpost_identity::time::parse_duration(text).with_context(|| {
        format!("cannot read --since {text:?}: give seconds since 1970 or a duration such as 30m, 2h or 3d")
    })?;
    Ok(now.0.saturating_sub(ago))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The first 16 hex digits of an id: enough to name a message.
fn short(v: &Value) -> &str {
    let id = str_of(v);
    id.get(..16).unwrap_or(id)
}

fn utc(v: &Value) -> String {
    Timestamp(v.as_u64().unwrap_or_default()).to_utc_string()
}

/// A person as `{"member", "name"}`: the name, or the start of the key.
fn who(v: &Value) -> &str {
    v["name"].as_str().unwrap_or_else(|| short(&v["member"]))
}

fn created(v: &Value) -> String {
    format!("created channel {} \"{}\"\n", str_of(&v["channel"]), str_of(&v["name"]))
}

fn direct(v: &Value) -> String {
    format!("direct channel {}\n", str_of(&v["channel"]))
}

fn list(v: &Value) -> String {
    let mut text = format!(
        "{:<32}  {:<24}  {:<16}  {:>6}  {:>8}  LAST\n",
        "ID", "NAME", "KIND", "UNREAD", "MENTIONS"
    );
    for c in v.as_array().into_iter().flatten() {
        let last = match c["last"].as_u64() {
            Some(0) | None => "-".to_owned(),
            Some(_) => utc(&c["last"]),
        };
        let mut flags = String::new();
        if c["archived"] == true {
            flags.push_str("  archived");
        }
        if c["joined"] == false {
            flags.push_str("  left");
        }
        let line = format!(
            "{:<32}  {:<24}  {:<16}  {:>6}  {:>8}  {last:<19}{flags}",
            str_of(&c["channel"]),
            c["name"].as_str().unwrap_or("(no name)"),
            str_of(&c["kind"]),
            c["unread"].as_u64().unwrap_or_default(),
            c["mentions"].as_u64().unwrap_or_default(),
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn joined(v: &Value) -> String {
    let done = if v["joined"] == true { "joined" } else { "left" };
    format!("{done} channel {}\n", str_of(&v["channel"]))
}

fn archived(v: &Value) -> String {
    let done = if v["archived"] == true { "archived" } else { "reopened" };
    format!("{done} channel {}\n", str_of(&v["channel"]))
}

fn saved(v: &Value) -> String {
    format!(
        "saved {} ({} bytes) to {}\n",
        str_of(&v["name"]),
        v["bytes"],
        str_of(&v["out"])
    )
}

fn sent(v: &Value) -> String {
    format!("sent {}\n", short(&v["message"]))
}

/// One message on one line (continuation lines of its text indented):
/// id, time, author, text and its markers.
fn message_line(m: &Value) -> String {
    let mut line = format!("{}  {}  {}: ", short(&m["id"]), utc(&m["time"]), who(&m["author"]));
    if m["recalled"] == true {
        line.push_str("(recalled)");
    } else {
        line.push_str(&str_of(&m["text"]).replace('\n', "\n    "));
    }
    if m["edited"] == true {
        line.push_str(" (edited)");
    }
    if m["pending"] == true && m["recalled"] != true {
        line.push_str(" (pending)");
    }
    for file in m["attachments"].as_array().into_iter().flatten() {
        let _ = write!(
            line,
            " 📎 {} ({} KB)",
            str_of(&file["name"]),
            file["bytes"].as_u64().unwrap_or(0).div_ceil(1024)
        );
    }
    if m["pinned"] == true {
        line.push_str(" 📌");
    }
    for (reaction, people) in m["reactions"].as_object().into_iter().flatten() {
        let n = people.as_array().map_or(0, Vec::len);
        let _ = write!(line, " [{reaction} {n}]");
    }
    match m["replies"].as_u64() {
        Some(1) => line.push_str(" (1 reply)"),
        Some(n) if n > 1 => {
            let _ = write!(line, " ({n} replies)");
        }
        _ => {}
    }
    line.push('\n');
    line
}

fn read(v: &Value) -> String {
    v["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(message_line)
        .collect()
}

fn edited(v: &Value) -> String {
    format!("edited {}\n", short(&v["message"]))
}

fn recalled(v: &Value) -> String {
    format!("recalled {}\n", short(&v["message"]))
}

/// The answer to a reaction does not say which: the formatter is told.
fn reacted(reaction: &str, off: bool) -> Render {
    let done = format!("{} {reaction}", if off { "took back" } else { "reacted" });
    Box::new(move |v: &Value| format!("{done} on {}\n", short(&v["message"])))
}

fn pinned(v: &Value) -> String {
    let done = if v["pinned"] == true { "pinned" } else { "unpinned" };
    format!("{done} {}\n", short(&v["message"]))
}

fn receipts(v: &Value) -> String {
    let names = |key: &str| {
        let people: Vec<&str> = v[key].as_array().into_iter().flatten().map(who).collect();
        if people.is_empty() {
            "-".to_owned()
        } else {
            people.join(", ")
        }
    };
    format!("read by: {}\nnot yet: {}\n", names("read"), names("unread"))
}

fn found(v: &Value) -> String {
    let hits = v.as_array().map(Vec::as_slice).unwrap_or_default();
    if hits.is_empty() {
        return "no message matches\n".to_owned();
    }
    hits.iter()
        .map(|m| format!("#{}  {}", str_of(&m["channel_name"]), message_line(m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_size("200MB").expect("a size"), 200 << 20);
        assert_eq!(parse_size("1 gb").expect("a size"), 1 << 30);
        assert_eq!(parse_size("512").expect("a size"), 512);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999GB").is_err());
    }

    #[test]
    fn since_takes_seconds_or_a_duration_ago() {
        let now = Timestamp(1_800_000_000);
        assert_eq!(parse_since("1700000000", now).expect("seconds"), 1_700_000_000);
        assert_eq!(parse_since("2h", now).expect("hours"), 1_800_000_000 - 7_200);
        assert_eq!(parse_since("30m", now).expect("minutes"), 1_800_000_000 - 1_800);
        assert_eq!(parse_since("3d", now).expect("days"), 1_800_000_000 - 3 * 86_400);
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("", now).is_err());
    }
}
