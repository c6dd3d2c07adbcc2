//! The memory benchmark's scenarios (issue #10): what a real `outpost up`
//! process holds in memory, and how long it takes to serve its API.
//!
//! - **Idle**: an org of one member with an empty store; `outpost up` on
//!   127.0.0.1 (mDNS off, no peers). Its `VmRSS` once it serves its API and
//!   has settled, and its `VmHWM` (the peak), from `/proc/<pid>/status`.
//! - **Loaded**: the same with a store holding `docs` documents (one
//!   automerge text change each) and `messages` chat messages over
//!   `channels` channels, sealed by the member with the node's APIs and
//!   put into the store directly, as the other benchmarks do. The store is
//!   built once and kept under `<target>/outpost-bench/cache/`, keyed by
//!   its sizes (rebuilt when older than 5 days: the certificates last a
//!   week). **Cold start** is from spawning the process to the first `200`
//!   of `GET /api/status` (polled every 2 ms); then `VmRSS` and `VmHWM` as
//!   above. Each start is one run.
//!
//! Nodes are stopped with SIGTERM, so that the store is closed cleanly and
//! the next start does not repair it.

#[path = "../common/mod.rs"]
pub mod common;

use anyhow::{Context, Result, bail};
use common::{Org, bench_dir, build_org, put_offline, seal_in_parallel};
use outpost_seal::envelope::{DocId, EnvId, Envelope, Payload};
use outpost_workspace::TextDoc;
use outpost_workspace::chat::{LogOp, Setting};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How big the scenarios are.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Documents in the loaded store.
    pub docs: usize,
    /// Chat messages in it.
    pub messages: usize,
    /// Over this many channels.
    pub channels: usize,
    /// Starts of each node (runs).
    pub starts: usize,
    /// Time between serving the API and reading the memory figures.
    pub settle: Duration,
    /// Keep the loaded store under `<target>/outpost-bench/cache/`.
    pub cache: bool,
}

impl Sizes {
    /// The sizes: 10k documents, 1M messages.
    pub fn full() -> Sizes {
        Sizes {
            docs: 10_000,
            messages: 1_000_000,
            channels: 100,
            starts: 3,
            settle: Duration::from_secs(2),
            cache: true,
        }
    }

    /// Scaled down.
    pub fn quick() -> Sizes {
        Sizes {
            docs: 2_000,
            messages: 100_000,
            channels: 20,
            starts: 2,
            settle: Duration::from_secs(1),
            cache: true,
        }
    }

    /// Tiny (the smoke test).
    pub fn smoke() -> Sizes {
        Sizes {
            docs: 20,
            messages: 500,
            channels: 5,
            starts: 1,
            settle: Duration::from_millis(200),
            cache: false,
        }
    }
}

/// What one start measured.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// Spawn to the first answer of the API, milliseconds.
    pub ready_ms: f64,
    /// `VmRSS` after settling, MB (10^6 bytes).
    pub rss_mb: f64,
    /// `VmHWM` then, MB.
    pub hwm_mb: f64,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The sizes.
    pub docs: usize,
    /// See [`Sizes`].
    pub messages: usize,
    /// See [`Sizes`].
    pub channels: usize,
    /// Envelopes in the loaded store.
    pub envelopes: usize,
    /// The loaded store's file, MB.
    pub store_mb: f64,
    /// Whether it came from the cache.
    pub cached: bool,
    /// Seconds spent building it (0 when cached).
    pub build_s: f64,
    /// The idle node's starts.
    pub idle: Vec<Start>,
    /// The loaded node's starts.
    pub loaded: Vec<Start>,
}

/// Runs both scenarios.
pub fn run(sizes: &Sizes) -> Result<Report> {
    let bin = outpost_bin()?;
    let mut report = Report {
        docs: sizes.docs,
        messages: sizes.messages,
        channels: sizes.channels,
        ..Report::default()
    };
    // Idle: an org of one, empty store.
    let idle = build_org(1)?;
    for _ in 0..sizes.starts {
        report.idle.push(start(&bin, idle.homes[0].dir(), sizes.settle)?);
    }
    // Loaded.
    let mut keep: Option<Org> = None;
    let home = if sizes.cache {
        let dir = bench_dir().join("cache").join(format!(
            "memory-d{}-m{}-c{}-v1",
            sizes.docs, sizes.messages, sizes.channels
        ));
        let done = dir.join("built");
        let fresh = std::fs::metadata(&done)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < Duration::from_secs(5 * 86_400));
        if fresh {
            report.cached = true;
        } else {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove the stale cache {}", dir.display()))?;
            }
            let started = Instant::now();
            let org = build_org(1)?;
            fill(&org, sizes)?;
            copy_dir(org.homes[0].dir(), &dir.join("home"))?;
            std::fs::write(&done, format!("{}\n", outpost_node::now().0))?;
            report.build_s = started.elapsed().as_secs_f64();
        }
        dir.join("home")
    } else {
        let started = Instant::now();
        let org = build_org(1)?;
        fill(&org, sizes)?;
        report.build_s = started.elapsed().as_secs_f64();
        let path = org.homes[0].dir().to_path_buf();
        keep = Some(org);
        path
    };
    report.envelopes = sizes.docs + sizes.messages + sizes.channels;
    report.store_mb = dir_bytes(&home) as f64 / 1e6;
    for _ in 0..sizes.starts {
        report.loaded.push(start(&bin, &home, sizes.settle)?);
    }
    drop(keep);
    Ok(report)
}

/// Seals the documents and messages and puts them into the store of the
/// org's first home (the node is not running), in parts so that the
/// envelopes never all sit in memory at once.
fn fill(org: &Org, sizes: &Sizes) -> Result<()> {
    let home = &org.homes[0];
    // Documents: one text change each.
    let ids: Vec<usize> = (0..sizes.docs).collect();
    for part in ids.chunks(20_000) {
        let envs = seal_in_parallel(part, |i| {
            let (_, first) = TextDoc::create(b"bench-writer-0001", &format!("Document {i}"))
                .expect("a text document can be created");
            vec![org.seal(DocId::generate(&mut rand::rng()), Vec::new(), first)]
        });
        let items: Vec<_> = envs.iter().map(|e| org.item(e)).collect();
        put_offline(home, &items)?;
    }
    // Channels: a name entry, then the messages in a chain.
    let channels: Vec<(usize, DocId)> = (0..sizes.channels)
        .map(|c| (c, DocId::generate(&mut rand::rng())))
        .collect();
    let per_channel = sizes.messages.div_ceil(sizes.channels.max(1));
    let mut last: Vec<Option<EnvId>> = vec![None; sizes.channels];
    // About 100k envelopes sealed and stored at a time.
    let step = (100_000 / sizes.channels.max(1)).clamp(1, per_channel.max(1));
    let mut from = 0;
    while from < per_channel {
        let to = (from + step).min(per_channel);
        let work: Vec<(usize, DocId, Option<EnvId>)> = channels.iter().map(|(c, d)| (*c, *d, last[*c])).collect();
        let envs = seal_in_parallel(&work, |(c, doc, prev)| {
            let mut out: Vec<Envelope> = Vec::new();
            let mut prev = *prev;
            if from == 0 {
                let name = LogOp::Set(Setting::Name(format!("memory-{c:03}")));
                let e = org.seal_as(0, *doc, Vec::new(), &Payload::Log(name.encode()));
                prev = Some(e.id);
                out.push(e);
            }
            for k in from..to {
                let n = k * sizes.channels + c;
                if n >= sizes.messages {
                    break;
                }
                let op = LogOp::Post {
                    text: format!(
                        "Message {n}: the numbers for report {k} are in the shared folder, please check them."
                    ),
                    reply_to: None,
                    mentions: Vec::new(),
                    attachments: Vec::new(),
                };
                let e = org.seal_as(0, *doc, prev.into_iter().collect(), &Payload::Log(op.encode()));
                prev = Some(e.id);
                out.push(e);
            }
            out
        });
        for e in &envs {
            if let Some((c, _)) = channels.iter().find(|(_, d)| *d == e.header.doc) {
                last[*c] = Some(e.id);
            }
        }
        let items: Vec<_> = envs.iter().map(|e| org.item(e)).collect();
        put_offline(home, &items)?;
        from = to;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {} to {}", entry.path().display(), target.display()))?;
        }
    }
    Ok(())
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The `outpost` binary: `OUTPOST_BIN`, else `<target>/<profile>/outpost`
/// of this executable's profile, built (or found fresh) with cargo first,
/// as the end-to-end tests do: the target directory may hold a binary
/// built from other sources.
pub fn outpost_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("OUTPOST_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().context("this executable has no path")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("benchmarks and tests live in <target>/<profile>/deps")?;
    let bin = profile_dir.join("outpost");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(p) => p,
    };
    let target_dir = profile_dir.parent().context("a profile directory has a parent")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"]
            .iter()
            .any(|p| key.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&key)
        {
            build.env_remove(key);
        }
    }
    let status = build
        .args([
            "build",
            "--quiet",
            "-p",
            "outpost",
            "--bin",
            "outpost",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .context("cannot run cargo to build the outpost binary")?;
    if !status.success() || !bin.exists() {
        bail!(
            "building the outpost binary failed ({status}); build it with `cargo build -p outpost` or set OUTPOST_BIN"
        );
    }
    Ok(bin)
}

/// A node process, stopped with SIGTERM when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `VmRSS` and `VmHWM` of `pid`, MB.
pub fn memory_of(pid: u32) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (Linux only)"))?;
    let field = |name: &str| -> Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("/proc/{pid}/status has no {name}"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("cannot read {line:?}"))?;
        Ok(kb * 1024.0 / 1e6)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// `GET /api/status` with the token; the status code.
fn status_code(addr: SocketAddr, token: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /api/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Starts `outpost up` on `home`, times it until its API answers, waits
/// `settle`, reads its memory, stops it.
fn start(bin: &Path, home: &Path, settle: Duration) -> Result<Start> {
    let api_file = home.join("api.json");
    match std::fs::remove_file(&api_file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("cannot remove {}: {e}", api_file.display()),
    }
    let spawned = Instant::now();
    let child = Command::new(bin)
        .arg("--home")
        .arg(home)
        .args([
            "up",
            "--no-mdns",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--api",
            "127.0.0.1:0",
        ])
        .env("OUTPOST_MDNS", "off")
        .env("OUTPOST_LOG", "warn")
        .env_remove("OUTPOST_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut proc = Proc(child);
    let pid = proc.0.id();
    let ready_ms = loop {
        if let Some(status) = proc.0.try_wait()? {
            bail!(
                "outpost up on {} exited with {status} before serving its API",
                home.display()
            );
        }
        let api: Option<(SocketAddr, String)> = std::fs::read_to_string(&api_file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .filter(|v| v["pid"].as_u64() == Some(u64::from(pid)))
            .and_then(|v| {
                Some((
                    v["url"].as_str()?.strip_prefix("http://")?.parse().ok()?,
                    v["token"].as_str()?.to_string(),
                ))
            });
        if let Some((addr, token)) = api
            && status_code(addr, &token) == Some(200)
        {
            break spawned.elapsed().as_secs_f64() * 1e3;
        }
        if spawned.elapsed() > Duration::from_secs(120) {
            bail!("outpost up on {} did not serve its API within 120 s", home.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    std::thread::sleep(settle);
    let (rss_mb, hwm_mb) = memory_of(pid)?;
    drop(proc);
    Ok(Start {
        ready_ms,
        rss_mb,
        hwm_mb,
    })
}

impl Report {
    /// The table printed.
    pub fn table(&self) -> String {
        let row = |name: &str, s: &[Start]| -> String {
            let list =
                |f: &dyn Fn(&Start) -> f64| s.iter().map(|x| format!("{:.1}", f(x))).collect::<Vec<_>>().join(", ");
            format!(
                "  {name:<8} ready ms [{}]  VmRSS MB [{}]  VmHWM MB [{}]\n",
                list(&|x| x.ready_ms),
                list(&|x| x.rss_mb),
                list(&|x| x.hwm_mb)
            )
        };
        format!(
            "memory: idle node and a node holding {} documents and {} messages ({} envelopes, store {:.0} MB{})\n{}{}  targets: idle ≤ 30 MB, loaded ≤ 150 MB, cold start ≤ 300 ms\n",
            self.docs,
            self.messages,
            self.envelopes,
            self.store_mb,
            if self.cached {
                ", from the cache".to_string()
            } else {
                format!(", built in {:.1} s", self.build_s)
            },
            row("idle", &self.idle),
            row("loaded", &self.loaded)
        )
    }

    /// The JSON written.
    pub fn json(&self, mode: &str) -> Value {
        let list = |s: &[Start], f: fn(&Start) -> f64| s.iter().map(f).collect::<Vec<_>>();
        json!({
            "mode": mode,
            "scenario": "outpost up processes on 127.0.0.1: VmRSS/VmHWM from /proc/<pid>/status once serving the API and settled; cold start = spawn to the first 200 of GET /api/status",
            "idle": {
                "rss_mb": list(&self.idle, |s| s.rss_mb),
                "hwm_mb": list(&self.idle, |s| s.hwm_mb),
                "ready_ms": list(&self.idle, |s| s.ready_ms),
            },
            "loaded": {
                "docs": self.docs,
                "messages": self.messages,
                "channels": self.channels,
                "envelopes": self.envelopes,
                "store_mb": self.store_mb,
                "cached": self.cached,
                "build_s": self.build_s,
                "rss_mb": list(&self.loaded, |s| s.rss_mb),
                "hwm_mb": list(&self.loaded, |s| s.hwm_mb),
                "cold_start_ms": list(&self.loaded, |s| s.ready_ms),
            },
            "targets": {"idle_rss_mb": 30, "loaded_rss_mb": 150, "cold_start_ms": 300},
        })
    }
}
