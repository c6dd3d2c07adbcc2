//! The systemd unit shipped in `contrib/systemd/outpost.service`: systemd
//! itself checks it (`systemd-analyze verify`, with `ExecStart=` pointed
//! at the binary under test), and every flag it gives `outpost up` is one
//! that `up` takes.

use outpost_tests::outpost_bin;
use std::path::Path;
use std::process::Command;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd/outpost.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart= line");
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_shipped_unit_passes_systemd_analyze_verify() {
    let unit = unit_text();
    let args = exec_start(&unit);
    assert_eq!(args[0], "/usr/local/bin/outpost", "{args:?}");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let local = unit.replace(
        "ExecStart=/usr/local/bin/outpost ",
        &format!("ExecStart={} ", outpost_bin().display()),
    );
    let path = dir.path().join("outpost.service");
    std::fs::write(&path, local).expect("the unit copy is written");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs systemd-analyze (Debian/Ubuntu package `systemd`): cannot run it: {e}")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lines about other units on this machine are not ours to judge.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("outpost")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify refused the unit ({}):\n{said}",
        out.status
    );
}

#[test]
fn the_units_flags_are_flags_of_outpost_up() {
    let args = exec_start(&unit_text());
    assert_eq!(args.get(1).map(String::as_str), Some("up"), "{args:?}");
    let help = Command::new(outpost_bin())
        .args(["up", "--help"])
        .output()
        .expect("outpost up --help runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(help.contains(flag.as_str()), "`outpost up` has no {flag}:\n{help}");
    }
    assert!(
        unit_text().contains("Environment=OUTPOST_PASSPHRASE_FILE=%d/passphrase"),
        "the unit hands over the passphrase as a credential file"
    );
}
