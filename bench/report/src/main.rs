//! `outpost-bench-report`: the performance suite's figures and report.
//!
//! ```text
//! outpost-bench-report convert GROUP --mode MODE RUN.json...   # GROUP.figures.json from a benchmark's runs
//! outpost-bench-report gossip --mode MODE                      # gossip-sim.figures.json (simulated)
//! outpost-bench-report report [--load-before "1.2 1.1 0.9"] [--commit C] [--note TEXT]...
//! ```
//!
//! Every command takes `--dir DIR` (default `$CARGO_TARGET_DIR/outpost-bench`,
//! else `target/outpost-bench`). Exit status 2 for a bad command line, 1
//! when a step fails.

use anyhow::{Context, Result, bail};
use outpost_bench_report::convert::{self, Runs};
use outpost_bench_report::figures::{FiguresFile, load_avg, now_rfc3339};
use outpost_bench_report::report::{self, SuiteContext};
use outpost_bench_report::{default_dir, gossip};
use std::path::PathBuf;

const USAGE: &str = "usage:
  outpost-bench-report convert GROUP --mode full|quick|smoke [--dir DIR] [--load-avg \"A B C\"] RUN.json...
  outpost-bench-report gossip --mode full|quick|smoke [--dir DIR]
  outpost-bench-report report [--dir DIR] [--load-before \"A B C\"] [--commit SHA] [--note TEXT]...";

#[derive(Debug, Default)]
struct Args {
    positional: Vec<String>,
    mode: Option<String>,
    dir: Option<PathBuf>,
    load: Option<Vec<f64>>,
    commit: Option<String>,
    notes: Vec<String>,
}

fn parse_load(s: &str) -> Result<Vec<f64>> {
    s.split_whitespace()
        .map(|w| {
            w.parse::<f64>()
                .with_context(|| format!("{w:?} in a load average is not a number"))
        })
        .collect()
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--mode" => {
                let m = value("--mode")?;
                if !["full", "quick", "smoke"].contains(&m.as_str()) {
                    bail!("--mode {m:?}: the modes are full, quick and smoke");
                }
                a.mode = Some(m);
            }
            "--dir" => a.dir = Some(value("--dir")?.into()),
            "--load-avg" | "--load-before" => a.load = Some(parse_load(&value(&arg)?)?),
            "--commit" => a.commit = Some(value("--commit")?),
            "--note" => a.notes.push(value("--note")?),
            "-h" | "--help" => bail!("help"),
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => a.positional.push(arg),
        }
    }
    Ok(a)
}

fn run(args: Args) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let (cmd, rest) = args.positional.split_first().context("no command given")?;
    let mode = || args.mode.clone().context("--mode is required (full, quick or smoke)");
    match cmd.as_str() {
        "convert" => {
            let (group, files) = rest
                .split_first()
                .context("convert needs a GROUP and the runs' JSON files")?;
            let runs = Runs::read(files)?;
            let figures = convert::convert(group, &runs)?;
            let file = FiguresFile {
                group: group.clone(),
                mode: mode()?,
                started: now_rfc3339(),
                load_avg: args.load.clone().unwrap_or_else(load_avg),
                figures,
            };
            println!("{}", file.write(&dir)?.display());
        }
        "gossip" => {
            let started = now_rfc3339();
            let load = load_avg();
            let m = mode()?;
            let (figures, _) = gossip::figures(&gossip::GossipSizes::of(&m))?;
            let file = FiguresFile {
                group: "gossip-sim".into(),
                mode: m,
                started,
                load_avg: load,
                figures,
            };
            println!("{}", file.write(&dir)?.display());
        }
        "report" => {
            let ctx = SuiteContext {
                load_before: args.load.clone().unwrap_or_default(),
                commit: args.commit.clone(),
                notes: args.notes.clone(),
            };
            let w = report::generate(&dir, &ctx)?;
            println!("{}", w.markdown.display());
            println!("{}", w.json.display());
            for c in &w.charts {
                println!("{}", c.display());
            }
            if let Some(why) = w.charts_skipped {
                eprintln!("outpost-bench-report: {why}");
            }
        }
        other => bail!("unknown command {other:?}"),
    }
    Ok(())
}

fn main() {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) if !a.positional.is_empty() => a,
        Ok(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
        Err(e) => {
            if e.to_string() == "help" {
                println!("{USAGE}");
                return;
            }
            eprintln!("outpost-bench-report: {e:#}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("outpost-bench-report: {e:#}");
        std::process::exit(1);
    }
}
