//! `outpost`: one binary for the node and its administration.
//!
//! Exit codes (documented in `docs/cli.md`):
//! 0 success · 1 error · 2 usage · 3 a certificate, request, invite or
//! bundle is invalid (tampered, truncated, forged, expired, revoked, wrong
//! org, out of scope) · 4 a key could not be opened (wrong or missing
//! passphrase, or a backup made with another backup key) · 5 partly done
//! (some rows of a staff list failed) · 6 the audit log failed
//! verification · 7 the disk is full (nothing was stored) · 8 a backup
//! failed verification.

mod announce;
mod approvals;
mod audit;
mod backup;
mod cert;
mod chat;
mod doc;
mod flags;
mod identity;
mod integrations;
mod io;
mod meetings;
mod staff;
mod tasks;

use clap::Parser;
use flags::{Cli, Command};
use std::process::ExitCode;

/// An error with a specific exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Exit code 3: the input object is invalid.
pub const INVALID: u8 = 3;
/// Exit code 4: a key could not be opened.
pub const KEY: u8 = 4;
/// Exit code 5: partly done.
pub const PARTIAL: u8 = 5;
/// Exit code 6: the audit log failed verification.
pub const TAMPERED: u8 = 6;
/// Exit code 7: the disk is full; nothing was stored.
pub const DISK_FULL: u8 = 7;
/// Exit code 8: a backup failed verification (damaged, incomplete, or
/// out of order).
pub const BACKUP_INVALID: u8 = 8;

/// An "invalid input" failure with `message`.
pub fn invalid(message: impl std::fmt::Display) -> anyhow::Error {
    Failure {
        code: INVALID,
        message: message.to_string(),
    }
    .into()
}

fn exit_code(err: &anyhow::Error) -> u8 {
    if outpost_node::disk::is_full(err) {
        return DISK_FULL;
    }
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if cause.is::<outpost_node::certs::Invalid>() {
            return INVALID;
        }
        if let Some(b) = cause.downcast_ref::<outpost_node::backup::Invalid>() {
            return if b.wrong_key { KEY } else { BACKUP_INVALID };
        }
        // A running node's refusal, by its code (see node/src/api.rs).
        if let Some(r) = cause.downcast_ref::<outpost_node::api_client::Refusal>() {
            match r.code.as_str() {
                "invalid" => return INVALID,
                "key" => return KEY,
                "disk_full" => return DISK_FULL,
                "backup_invalid" => return BACKUP_INVALID,
                _ => {}
            }
        }
        if cause
            .downcast_ref::<outpost_identity::keyfile::KeyFileError>()
            .is_some()
        {
            return KEY;
        }
    }
    1
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let ctx = match io::Ctx::new(&cli.global) {
        Ok(ctx) => ctx,
        Err(e) => return report(&e),
    };
    let result = match cli.command {
        Command::Init { name, member_key } => identity::init(&ctx, name, member_key.as_deref()),
        Command::Up(args) => identity::up(&ctx, &args),
        Command::Status => identity::status(&ctx),
        Command::Peers => identity::peers(&ctx),
        Command::Open { no_browser } => identity::open(&ctx, no_browser),
        Command::Passphrase(cmd) => identity::passphrase(&ctx, cmd),
        Command::Org(cmd) => identity::org(&ctx, cmd),
        Command::Cert(cmd) => cert::run(&ctx, cmd),
        Command::Staff(cmd) => staff::run(&ctx, cmd),
        Command::Invite(cmd) => staff::invite(&ctx, cmd),
        Command::Doc(cmd) => doc::run(&ctx, cmd),
        Command::Space(cmd) => doc::space(&ctx, cmd),
        Command::File(cmd) => doc::file(&ctx, cmd),
        Command::Channel(cmd) => chat::channel(&ctx, cmd),
        Command::Chat(cmd) => chat::chat(&ctx, cmd),
        Command::Project(cmd) => tasks::project(&ctx, cmd),
        Command::Task(cmd) => tasks::task(&ctx, cmd),
        Command::Board(cmd) => tasks::board(&ctx, cmd),
        Command::Stats { days } => integrations::stats(&ctx, days),
        Command::Token(cmd) => integrations::token(&ctx, cmd),
        Command::Webhook(cmd) => integrations::webhook(&ctx, cmd),
        Command::Approval(cmd) => approvals::run(&ctx, cmd),
        Command::Announce(cmd) => announce::run(&ctx, cmd),
        Command::Meeting(cmd) => meetings::run(&ctx, cmd),
        Command::Audit(cmd) => audit::run(&ctx, cmd),
        Command::Backup(cmd) => backup::run(&ctx, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

fn report(e: &anyhow::Error) -> ExitCode {
    if outpost_node::disk::is_full(e) {
        eprintln!("error: {}", outpost_node::disk::explain(format!("{e:#}")));
        return ExitCode::from(DISK_FULL);
    }
    eprintln!("error: {e:#}");
    ExitCode::from(exit_code(e))
}
