//! The suite's common figure format (see `docs/performance.md`): what every
//! part of the suite writes to `<target>/outpost-bench/<group>.figures.json`
//! and the report generator reads.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Median, least and largest of several runs, and the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The median (mean of the two middle runs for an even count).
    pub median: f64,
    /// The least run.
    pub min: f64,
    /// The largest run.
    pub max: f64,
    /// Every run, in the order they ran.
    pub runs: Vec<f64>,
}

impl Stats {
    /// The statistics of `runs`; `None` when there is none or one is not a
    /// number.
    pub fn of(runs: &[f64]) -> Option<Stats> {
        if runs.is_empty() || runs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut sorted = runs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            runs: runs.to_vec(),
        })
    }
}

/// What an Outpost figure is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What it is, e.g. "ed25519-dalek verify, one thread".
    pub name: String,
    /// `raw` (a primitive or limit) or `peer` (another product).
    pub kind: String,
    /// Its runs.
    #[serde(flatten)]
    pub stats: Stats,
}

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Which part of the suite.
    pub group: String,
    /// Stable id, kebab-case.
    pub scenario: String,
    /// What it is, for people.
    pub title: String,
    /// Unit of the values.
    pub unit: String,
    /// `higher` or `lower`.
    pub better: String,
    /// Outpost's runs.
    pub outpost: Stats,
    /// What it is compared with, if anything.
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// Outpost's median over the baseline's.
    #[serde(default)]
    pub ratio: Option<f64>,
    /// The floor, as text (see [`Target::parse`]).
    #[serde(default)]
    pub target: Option<String>,
    /// Whether the target is met.
    #[serde(default)]
    pub met: Option<bool>,
    /// Sizes, what was timed.
    #[serde(default)]
    pub notes: String,
}

/// A target the report can check: `ratio >= 0.5`, `ratio <= 2`,
/// `median <= 10` (the unit may follow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// On the ratio rather than the median.
    pub on_ratio: bool,
    /// `>=` rather than `<=`.
    pub at_least: bool,
    /// The limit.
    pub limit: f64,
}

impl Target {
    /// Parses the first condition of a target text (`"ratio >= 0.5"`,
    /// `"median <= 30 MB"`, `"<= 10 ms"`); `None` for text it cannot read.
    pub fn parse(text: &str) -> Option<Target> {
        let mut words = text.split_whitespace().peekable();
        let on_ratio = match words.peek() {
            Some(&"ratio") => {
                words.next();
                true
            }
            Some(&"median") => {
                words.next();
                false
            }
            _ => false,
        };
        let at_least = match words.next()? {
            ">=" | "≥" => true,
            "<=" | "≤" => false,
            _ => return None,
        };
        let limit: f64 = words.next()?.trim_end_matches(',').parse().ok()?;
        Some(Target {
            on_ratio,
            at_least,
            limit,
        })
    }

    /// Whether `value` meets it.
    pub fn met_by(&self, value: f64) -> bool {
        if self.at_least {
            value >= self.limit
        } else {
            value <= self.limit
        }
    }

    /// How far from the limit, as a factor: 1 at the limit, above 1 when
    /// met with room to spare, below 1 when not met.
    pub fn margin(&self, value: f64) -> f64 {
        if self.at_least {
            value / self.limit
        } else if value > 0.0 {
            self.limit / value
        } else {
            f64::INFINITY
        }
    }
}

impl Figure {
    /// A figure from its runs; the ratio and whether the target is met are
    /// computed (the target is read by [`Target::parse`]; one it cannot
    /// read leaves `met` to the caller).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        group: &str,
        scenario: &str,
        title: &str,
        unit: &str,
        better: Better,
        outpost: Stats,
        baseline: Option<Baseline>,
        target: Option<&str>,
        notes: impl Into<String>,
    ) -> Figure {
        let ratio = baseline
            .as_ref()
            .filter(|b| b.stats.median != 0.0)
            .map(|b| outpost.median / b.stats.median);
        let met = target.and_then(Target::parse).and_then(|t| {
            let value = if t.on_ratio { ratio? } else { outpost.median };
            Some(t.met_by(value))
        });
        Figure {
            group: group.into(),
            scenario: scenario.into(),
            title: title.into(),
            unit: unit.into(),
            better: better.as_str().into(),
            outpost,
            baseline,
            ratio,
            target: target.map(str::to_string),
            met,
            notes: notes.into(),
        }
    }

    /// The value its target is checked on, and the target.
    pub fn checked(&self) -> Option<(f64, Target)> {
        let t = Target::parse(self.target.as_deref()?)?;
        let value = if t.on_ratio { self.ratio? } else { self.outpost.median };
        Some((value, t))
    }
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better (throughput).
    Higher,
    /// Less is better (latency, bytes, memory).
    Lower,
}

impl Better {
    /// As written in the figure.
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// A raw baseline.
pub fn raw(name: &str, stats: Stats) -> Baseline {
    Baseline {
        name: name.into(),
        kind: "raw".into(),
        stats,
    }
}

/// What a part of the suite writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiguresFile {
    /// The part.
    pub group: String,
    /// `full`, `quick` or `smoke`.
    pub mode: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// `/proc/loadavg` when it started.
    #[serde(default)]
    pub load_avg: Vec<f64>,
    /// Its figures.
    pub figures: Vec<Figure>,
}

impl FiguresFile {
    /// Writes it to `<dir>/<group>.figures.json`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}.figures.json", self.group));
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Reads one.
    pub fn read(path: &Path) -> Result<FiguresFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: FiguresFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a figures file (see the format in docs/performance.md)",
                path.display()
            )
        })?;
        if file.group.is_empty() {
            bail!("{} names no group", path.display());
        }
        Ok(file)
    }
}

/// `/proc/loadavg`'s three averages (empty where there is none).
pub fn load_avg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).filter_map(|w| w.parse().ok()).collect())
        .unwrap_or_default()
}

/// The time now, RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// `secs` since the Unix epoch as RFC 3339 (UTC).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = outpost_identity::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_the_median_and_the_extremes() {
        let s = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.runs, vec![3.0, 1.0, 2.0]);
        assert_eq!(Stats::of(&[4.0, 1.0]).unwrap().median, 2.5);
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn targets_are_read_and_checked() {
        let t = Target::parse("ratio >= 0.5").unwrap();
        assert!(t.on_ratio && t.at_least && t.limit == 0.5);
        assert!(t.met_by(0.5) && !t.met_by(0.49));
        let t = Target::parse("median <= 30 MB").unwrap();
        assert!(!t.on_ratio && !t.at_least && t.met_by(29.0) && !t.met_by(31.0));
        assert_eq!(t.margin(15.0), 2.0);
        assert!(Target::parse("all peers receive").is_none());
    }

    #[test]
    fn a_figure_computes_its_ratio_and_verdict() {
        let f = Figure::new(
            "g",
            "s",
            "t",
            "MB/s",
            Better::Higher,
            Stats::of(&[100.0]).unwrap(),
            Some(raw("raw", Stats::of(&[400.0]).unwrap())),
            Some("ratio >= 0.5"),
            "",
        );
        assert_eq!(f.ratio, Some(0.25));
        assert_eq!(f.met, Some(false));
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
