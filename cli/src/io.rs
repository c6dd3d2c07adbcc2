//! What every command shares: the home, the passphrase, reading inputs and
//! writing outputs.

use crate::flags::Global;
use anyhow::{Context, Result};
use outpost_node::{Home, Passphrase};
use std::io::Read;
use std::path::Path;

/// The context of one command.
pub struct Ctx {
    pub home: Home,
    pub pass: Passphrase,
    pub json: bool,
}

impl Ctx {
    pub fn new(g: &Global) -> Result<Ctx> {
        let dir = g.home.clone().unwrap_or_else(Home::default_dir);
        Ok(Ctx {
            home: Home::at(dir),
            pass: Passphrase::from_sources(g.passphrase_file.as_deref())?,
            json: g.json,
        })
    }

    /// Prints `text`, or `json` when --json was given.
    pub fn print(&self, text: impl std::fmt::Display, json: serde_json::Value) {
        if self.json {
            println!("{json:#}");
        } else {
            print!("{text}");
        }
    }
}

/// Most bytes read from one input file.
pub const INPUT_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Reads a text input; "-" is standard input.
pub fn read_input(path: &Path) -> Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(INPUT_BYTES_MAX)
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(INPUT_BYTES_MAX).read_to_string(&mut text))
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(text)
}

/// Writes an armored object to `out`, or to standard output.
pub fn write_output(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
