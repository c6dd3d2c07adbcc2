//! The report: every `*.figures.json` of a directory into `report.md`,
//! `report.json` and PNG charts (one per group: Outpost next to its
//! baseline, bars at the median with min–max whiskers; and one of every
//! target's margin).

use crate::figures::{Figure, FiguresFile, Stats, load_avg, now_rfc3339};
use anyhow::{Context, Result, anyhow};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What the report says besides the figures.
#[derive(Debug, Clone, Default)]
pub struct SuiteContext {
    /// `/proc/loadavg` when the suite started.
    pub load_before: Vec<f64>,
    /// The commit measured.
    pub commit: Option<String>,
    /// Lines the suite adds (parts that failed or were skipped).
    pub notes: Vec<String>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
    /// The charts.
    pub charts: Vec<PathBuf>,
    /// Why there are no charts, if there are none.
    pub charts_skipped: Option<String>,
}

/// The figures files of `dir`, by group name.
pub fn read_all(dir: &Path) -> Result<Vec<FiguresFile>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".figures.json"))
        })
        .collect();
    paths.sort();
    for p in paths {
        files.push(FiguresFile::read(&p)?);
    }
    Ok(files)
}

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status.success().then_some(())?;
    String::from_utf8(out.stdout).ok()?.lines().next().map(str::to_string)
}

/// Machine facts for the report.
pub fn machine(ctx: &SuiteContext) -> Value {
    let mem_mb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| (kb / 1024.0).round())
    });
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_mb": mem_mb,
        "load_avg_before": ctx.load_before,
        "load_avg_after": load_avg(),
        "git_commit": ctx.commit.clone().or_else(|| first_line("git", &["rev-parse", "HEAD"])),
        "rustc": first_line("rustc", &["--version"]),
        "generated": now_rfc3339(),
    })
}

fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn spread(s: &Stats) -> String {
    if s.runs.len() > 1 {
        format!("{} ({}–{}, n={})", num(s.median), num(s.min), num(s.max), s.runs.len())
    } else {
        num(s.median)
    }
}

fn verdict(f: &Figure) -> &'static str {
    match f.met {
        Some(true) => "met",
        Some(false) => "**NOT MET**",
        None => "",
    }
}

/// The Markdown report.
pub fn markdown(
    files: &[FiguresFile],
    machine: &Value,
    ctx: &SuiteContext,
    charts: &[PathBuf],
    skipped: Option<&str>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Outpost performance report\n");
    let m = |k: &str| machine.get(k).map(|v| v.to_string()).unwrap_or_default();
    let _ = writeln!(
        md,
        "Machine: {} cores, {} MB memory; load average before {} and after {}; commit {}; {}. Generated {}.\n",
        m("nproc"),
        m("memory_mb"),
        m("load_avg_before"),
        m("load_avg_after"),
        machine["git_commit"].as_str().unwrap_or("unknown"),
        machine["rustc"].as_str().unwrap_or("rustc unknown"),
        machine["generated"].as_str().unwrap_or(""),
    );
    let _ = writeln!(
        md,
        "Figures are medians of the runs (min–max, n = runs). Ratio = Outpost median / baseline median. Targets are the issue's floors.\n"
    );
    for n in &ctx.notes {
        let _ = writeln!(md, "- {n}");
    }
    if !ctx.notes.is_empty() {
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "| group | scenario | Outpost | unit | baseline | ratio | target | |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for file in files {
        for f in &file.figures {
            let base = f
                .baseline
                .as_ref()
                .map(|b| format!("{}: {}", b.name, spread(&b.stats)))
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                f.group,
                f.title,
                spread(&f.outpost),
                f.unit,
                base,
                f.ratio.map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into()),
                f.target.as_deref().unwrap_or("—"),
                verdict(f)
            );
        }
    }
    let not_met: Vec<&Figure> = files
        .iter()
        .flat_map(|f| &f.figures)
        .filter(|f| f.met == Some(false))
        .collect();
    let _ = writeln!(md, "\n## Targets not met\n");
    if not_met.is_empty() {
        let _ = writeln!(md, "None of the figures here misses its target.");
    }
    for f in not_met {
        let _ = writeln!(
            md,
            "- {}/{}: {} {} (target {})",
            f.group,
            f.scenario,
            num(f.ratio.unwrap_or(f.outpost.median)),
            if f.ratio.is_some() { "ratio" } else { &f.unit },
            f.target.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(md, "\n## Parts of the suite\n");
    for file in files {
        let _ = writeln!(
            md,
            "- {}: mode {}, started {}, load average {:?}, {} figures",
            file.group,
            file.mode,
            file.started,
            file.load_avg,
            file.figures.len()
        );
    }
    let _ = writeln!(md, "\n## Notes per figure\n");
    for f in files.iter().flat_map(|f| &f.figures) {
        let _ = writeln!(md, "- **{}/{}**: {}", f.group, f.scenario, f.notes);
    }
    let _ = writeln!(md, "\n## Charts\n");
    if let Some(why) = skipped {
        let _ = writeln!(md, "No charts: {why}");
    }
    for c in charts {
        if let Some(name) = c.file_name().and_then(|n| n.to_str()) {
            let _ = writeln!(md, "![{name}]({name})");
        }
    }
    md
}

/// Writes `report.md`, `report.json` and the charts into `dir`, from the
/// figures files there.
pub fn generate(dir: &Path, ctx: &SuiteContext) -> Result<Written> {
    let files = read_all(dir)?;
    let machine = machine(ctx);
    let (charts, skipped) = match font() {
        Ok(()) => (charts(dir, &files)?, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let md = markdown(&files, &machine, ctx, &charts, skipped.as_deref());
    let markdown = dir.join("report.md");
    std::fs::write(&markdown, md).with_context(|| format!("cannot write {}", markdown.display()))?;
    let report = json!({
        "machine": machine,
        "notes": ctx.notes,
        "parts": files.iter().map(|f| json!({
            "group": f.group, "mode": f.mode, "started": f.started, "load_avg": f.load_avg,
        })).collect::<Vec<_>>(),
        "figures": files.iter().flat_map(|f| &f.figures).collect::<Vec<_>>(),
        "charts": charts.iter().filter_map(|c| c.file_name().and_then(|n| n.to_str())).collect::<Vec<_>>(),
        "charts_skipped": skipped,
    });
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    Ok(Written {
        markdown,
        json: json_path,
        charts,
        charts_skipped: skipped,
    })
}

/// Fonts tried for the charts' text, in order (`OUTPOST_BENCH_FONT` first).
pub const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers a font for the charts' text (plotters draws text with
/// ab_glyph from a font file; it reads no system font configuration).
fn font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut tried: Vec<String> = Vec::new();
        if let Some(p) = std::env::var_os("OUTPOST_BENCH_FONT") {
            tried.push(PathBuf::from(p).display().to_string());
        }
        tried.extend(FONTS.iter().map(|s| s.to_string()));
        for p in &tried {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no font for the charts' text (tried {}): install fonts-dejavu-core (apt-get install fonts-dejavu-core) or set OUTPOST_BENCH_FONT to a .ttf file",
            tried.join(", ")
        ))
    })
    .clone()
}

const OUTPOST: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const BASE: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);
const PEER: RGBColor = RGBColor(0xd0, 0x8c, 0x2a);
const MET: RGBColor = RGBColor(0x3a, 0x9a, 0x4a);
const MISSED: RGBColor = RGBColor(0xc8, 0x3a, 0x32);

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Shortens `s` to `n` characters.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn charts(dir: &Path, files: &[FiguresFile]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for file in files.iter().filter(|f| !f.figures.is_empty()) {
        let path = dir.join(format!("chart-{}.png", file.group));
        group_chart(&path, file)?;
        out.push(path);
    }
    let checked: Vec<&Figure> = files
        .iter()
        .flat_map(|f| &f.figures)
        .filter(|f| f.checked().is_some())
        .collect();
    if !checked.is_empty() {
        let path = dir.join("chart-targets.png");
        targets_chart(&path, &checked)?;
        out.push(path);
    }
    Ok(out)
}

fn group_chart(path: &Path, file: &FiguresFile) -> Result<()> {
    let n = file.figures.len();
    let cols = n.min(3);
    let rows = n.div_ceil(cols);
    let (w, h) = (cols as u32 * 300, rows as u32 * 230 + 30);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (top, body) = root.split_vertically(30);
    top.draw_text(
        &format!(
            "{} ({} mode): Outpost (blue) vs baseline (grey: raw, orange: peer); bars = median, whiskers = min–max",
            file.group, file.mode
        ),
        &("sans-serif", 13).into_font().color(&BLACK),
        (8, 8),
    )
    .map_err(draw_err)?;
    for (panel, f) in body.split_evenly((rows, cols)).iter().zip(&file.figures) {
        let mut bars: Vec<(String, &Stats, RGBColor)> = vec![("Outpost".into(), &f.outpost, OUTPOST)];
        if let Some(b) = &f.baseline {
            bars.push((short(&b.name, 22), &b.stats, if b.kind == "peer" { PEER } else { BASE }));
        }
        let limit = f.checked().filter(|(_, t)| !t.on_ratio).map(|(_, t)| t.limit);
        let top_value = bars.iter().map(|(_, s, _)| s.max).chain(limit).fold(0.0_f64, f64::max);
        let ymax = if top_value > 0.0 { top_value * 1.15 } else { 1.0 };
        let labels: Vec<String> = bars.iter().map(|(l, _, _)| l.clone()).collect();
        let caption = short(&f.title, 44);
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 12))
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(48)
            .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..ymax)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(f.unit.as_str())
            .label_style(("sans-serif", 10))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|y| num(*y))
            .draw()
            .map_err(draw_err)?;
        for (i, (_, s, color)) in bars.iter().enumerate() {
            chart
                .draw_series(std::iter::once(
                    Rectangle::new(
                        [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), s.median)],
                        color.filled(),
                    )
                    .into_dyn(),
                ))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(SegmentValue::CenterOf(i), s.min), (SegmentValue::CenterOf(i), s.max)],
                    BLACK.stroke_width(2),
                )))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    num(s.median),
                    (SegmentValue::CenterOf(i), s.max.max(s.median) + ymax * 0.02),
                    ("sans-serif", 11).into_font(),
                )))
                .map_err(draw_err)?;
        }
        if let Some(limit) = limit {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (SegmentValue::Exact(0), limit),
                        (SegmentValue::Exact(bars.len()), limit),
                    ],
                    MISSED.stroke_width(1),
                )))
                .map_err(draw_err)?;
        }
        if let Some(r) = f.ratio {
            panel
                .draw_text(
                    &format!(
                        "ratio {r:.2}{}",
                        f.met.map(|m| if m { " ✓" } else { " ✗" }).unwrap_or("")
                    ),
                    &("sans-serif", 11).into_font().color(&BLACK),
                    (60, 22),
                )
                .map_err(draw_err)?;
        }
    }
    root.present().map_err(draw_err)?;
    Ok(())
}

fn targets_chart(path: &Path, figs: &[&Figure]) -> Result<()> {
    let n = figs.len();
    let h = 60 + 22 * n as u32;
    let root = BitMapBackend::new(path, (900, h)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let margins: Vec<f64> = figs
        .iter()
        .filter_map(|f| f.checked().map(|(v, t)| t.margin(v)))
        .collect();
    let xmax = margins
        .iter()
        .copied()
        .filter(|m| m.is_finite())
        .fold(2.0_f64, f64::max)
        .min(10.0)
        * 1.05;
    let labels: Vec<String> = figs
        .iter()
        .map(|f| short(&format!("{}/{}", f.group, f.scenario), 34))
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Targets: how far each figure is from its floor (1 = at the limit; right of the red line = met)",
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(230)
        .build_cartesian_2d(0.0..xmax, (0..n).into_segmented())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .label_style(("sans-serif", 11))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format!("{x:.1}×"))
        .draw()
        .map_err(draw_err)?;
    for (i, m) in margins.iter().enumerate() {
        let color = if *m >= 1.0 { MET } else { MISSED };
        let m = if m.is_finite() { m.min(xmax) } else { xmax };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, SegmentValue::Exact(i)), (m, SegmentValue::Exact(i + 1))],
                color.filled(),
            )))
            .map_err(draw_err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
            MISSED.stroke_width(2),
        )))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}
