//! `outpost init`, `up`, `status` and `org ...`.

use crate::flags::{OrgCommand, PassphraseCommand, UpArgs};
use crate::io::{Ctx, write_output};
use anyhow::{Context, Result};
use outpost_identity::armor::{self, Label};
use outpost_identity::keys::peer_id_of;
use outpost_node::{Local, now};
use serde_json::json;

/// The name used when none is given: the login name.
pub fn default_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "me".into())
}

pub fn init(ctx: &Ctx, name: Option<String>, member_key: Option<&std::path::Path>) -> Result<()> {
    let name = name.unwrap_or_else(default_name);
    outpost_identity::op::check_text("name", &name, true)?;
    let (member, device) = match member_key {
        Some(path) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the member key file {}", path.display()))?,
            );
            ctx.home.init_device(&ctx.pass, &text)?
        }
        None => ctx.home.init(&ctx.pass)?,
    };
    ctx.home.store()?.set_settings(&[("member-name", name.as_bytes())])?;
    if ctx.pass.get().is_none() && !ctx.json {
        eprintln!(
            "warning: the keys are stored without a passphrase (mode 0600); set one with --passphrase-file or OUTPOST_PASSPHRASE to encrypt them"
        );
    }
    ctx.print(
        format!(
            "created identity for {name} in {}\n  member key  {member}\n  device      {}\nnext: `outpost cert request` to ask an admin for a certificate, or `outpost org create --name ORG`\n",
            ctx.home.dir().display(),
            peer_id_of(&device)
        ),
        json!({"home": ctx.home.dir(), "name": name, "member": member.to_string(), "device": peer_id_of(&device)}),
    );
    Ok(())
}

pub fn passphrase(ctx: &Ctx, cmd: PassphraseCommand) -> Result<()> {
    let PassphraseCommand::Change {
        new_passphrase_file,
        remove,
    } = cmd;
    let new = outpost_node::Passphrase::from_file_or_env(new_passphrase_file.as_deref(), "OUTPOST_NEW_PASSPHRASE")?;
    match (new.get().is_some(), remove) {
        (true, true) => anyhow::bail!(
            "--remove stores the keys without a passphrase, but a new passphrase was given too (OUTPOST_NEW_PASSPHRASE or OUTPOST_NEW_PASSPHRASE_FILE): give one or the other"
        ),
        (false, false) => anyhow::bail!(
            "no new passphrase: give it with --new-passphrase-file FILE or the OUTPOST_NEW_PASSPHRASE environment variable (or --remove to store the keys unencrypted)"
        ),
        _ => {}
    }
    let was = ctx.home.keys_encrypted()?;
    let kinds = ctx.home.change_passphrase(&ctx.pass, &new)?;
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            outpost_identity::keyfile::KeyKind::Member => "member",
            outpost_identity::keyfile::KeyKind::Device => "device",
            outpost_identity::keyfile::KeyKind::Storage => "storage",
            outpost_identity::keyfile::KeyKind::OrgRoot => "org-root",
        })
        .collect();
    let what = match (was, remove) {
        (_, true) => "are now stored WITHOUT a passphrase (protected by file mode 0600 only)",
        (false, false) => "are now encrypted under the new passphrase",
        (true, false) => "are now encrypted under the new passphrase instead of the old one",
    };
    ctx.print(
        format!(
            "{} key file(s) ({}) in {} {what}.\nA node running on this home keeps working; start it with the new passphrase from now on{}.\n",
            kinds.len(),
            names.join(", "),
            ctx.home.dir().join("keys").display(),
            if remove { " (no passphrase)" } else { "" }
        ),
        json!({"keys": names, "encrypted": !remove, "was_encrypted": was}),
    );
    Ok(())
}

/// The member's display name as given at init.
pub fn member_name(local: &Local) -> Result<String> {
    outpost_node::certs::member_name(local, &default_name())
}

pub fn org(ctx: &Ctx, cmd: OrgCommand) -> Result<()> {
    match cmd {
        OrgCommand::Create { name } => {
            let mut local = Local::open(ctx.home.clone())?;
            let me = member_name(&local)?;
            let id = local.create_org(&name, &me, &ctx.pass, now())?;
            let org = local.require_org()?.org();
            if ctx.pass.get().is_none() && !ctx.json {
                eprintln!(
                    "warning: the org root key {} is not encrypted; set a passphrase, and keep a copy offline",
                    ctx.home.dir().join("keys/org-root.key").display()
                );
            }
            ctx.print(
                format!("created org {name} ({org}); {me} is its first admin (certificate {id})\n"),
                json!({"org": org.to_string(), "name": name, "admin_cert": id.to_hex()}),
            );
        }
        OrgCommand::Settings => crate::chat::org_settings(ctx, None, None)?,
        OrgCommand::Set {
            file_size_max,
            file_types,
        } => crate::chat::org_settings(ctx, file_size_max, file_types)?,
        OrgCommand::Export { out } => {
            let local = Local::open(ctx.home.clone())?;
            let bundle = local.bundle_all()?;
            let text = armor::encode(Label::Bundle, &bundle.encode());
            if ctx.json && out.is_none() {
                ctx.print("", json!({"ops": bundle.ops.len(), "armored": text}));
            } else {
                write_output(out.as_deref(), &text)?;
            }
        }
    }
    Ok(())
}

/// `outpost open`: the web page's login link, opened in the desktop's
/// browser when there is one.
pub fn open(ctx: &Ctx, no_browser: bool) -> Result<()> {
    let api = outpost_node::api_client::ApiClient::running(ctx.home.dir())
        .context("no node is running on this home: start one with `outpost up`")?;
    let url = api.login_url();
    ctx.print(
        format!("{url}\n(this link logs a browser in to your node: keep it to yourself)\n"),
        serde_json::json!({"url": url}),
    );
    let desktop = cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !no_browser && !ctx.json && desktop {
        let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
        let started = std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Err(e) = started {
            eprintln!("could not start a browser ({opener}: {e}): open the link above yourself");
        }
    }
    Ok(())
}

pub fn peers(ctx: &Ctx) -> Result<()> {
    let api = outpost_node::api_client::ApiClient::running(ctx.home.dir())
        .context("no node is running on this home: start one with `outpost up`")?;
    let v = api.get("/api/peers")?;
    let mut text = String::new();
    for p in v.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "{}  {:<20}  {:<9}  {}\n",
            p["peer_id"].as_str().unwrap_or_default(),
            p["name"].as_str().unwrap_or("?"),
            p["role"].as_str().unwrap_or("?"),
            p["addrs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    text.push_str(&format!("{} peer(s)\n", v.as_array().map_or(0, Vec::len)));
    ctx.print(text, v);
    Ok(())
}

pub fn status(ctx: &Ctx) -> Result<()> {
    if let Some(api) = outpost_node::api_client::ApiClient::running(ctx.home.dir()) {
        let v = api.get("/api/status")?;
        let text = format!(
            "node     running, peer id {}\norg      {} ({})\nmember   {}\nrole     {}\npeers    {}\nlisten   {}\nchanges  {}\nstore    {}\n",
            v["peer_id"].as_str().unwrap_or_default(),
            v["org"]["name"].as_str().unwrap_or_default(),
            v["org"]["id"].as_str().unwrap_or_default(),
            v["member"].as_str().unwrap_or_default(),
            v["role"]["role"]
                .as_str()
                .map(|r| format!("{r} of {}", v["role"]["dept"].as_str().unwrap_or_default()))
                .unwrap_or_else(|| "none".into()),
            v["peers"],
            v["listen"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            v["envelopes"],
            v["store"].as_str().unwrap_or_default(),
        );
        let mut text = text;
        text.push_str(&format!(
            "size     {:.1} MB
",
            v["store_bytes"].as_u64().unwrap_or(0) as f64 / 1e6
        ));
        let docs = v["docs"].as_array().cloned().unwrap_or_default();
        text.push_str(&format!(
            "docs     {}
",
            docs.len()
        ));
        for d in &docs {
            text.push_str(&format!(
                "  {}  {} valid, {} pending, {} invalid, {} head(s)\n",
                d["id"].as_str().unwrap_or_default(),
                d["valid"],
                d["pending"],
                d["invalid"],
                d["heads"].as_array().map_or(0, Vec::len)
            ));
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        for s in v["syncs"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "synced   with {} {} s ago: {} envelope(s) sent, {} received, {} round trip(s)\n",
                s["peer_id"].as_str().unwrap_or_default(),
                now_ms.saturating_sub(s["ended"].as_u64().unwrap_or(0)) / 1000,
                s["envelopes_sent"],
                s["envelopes_received"],
                s["round_trips"]
            ));
        }
        ctx.print(text, v);
        return Ok(());
    }
    let local = Local::open(ctx.home.clone())?;
    let now = now();
    let name = member_name(&local)?;
    let mut text = format!(
        "home     {}\nname     {name}\nmember   {}\ndevice   {}\n",
        ctx.home.dir().display(),
        local.member,
        peer_id_of(&local.device)
    );
    let mut js = json!({
        "home": ctx.home.dir(), "name": name, "member": local.member.to_string(),
        "device": peer_id_of(&local.device), "org": null, "role": null,
    });
    match local.state() {
        None => text.push_str("org      none (create one with `outpost org create`, or install a certificate)\n"),
        Some(state) => {
            text.push_str(&format!("org      {} ({})\n", local.org_name(), state.org()));
            js["org"] = json!({"id": state.org().to_string(), "name": local.org_name(), "certificates": state.len()});
            match state.role_of(&local.member, now) {
                Some((id, c)) => {
                    text.push_str(&format!(
                        "role     {} of {} (certificate {id}, valid until {})\n",
                        c.role,
                        if c.dept.segments().is_empty() {
                            "the whole org".into()
                        } else {
                            c.dept.to_string()
                        },
                        c.not_after
                    ));
                    js["role"] = json!({"role": c.role.name(), "dept": c.dept.to_string(), "cert": id.to_hex(), "until": c.not_after.0});
                }
                None => text.push_str("role     none: no valid certificate for this member\n"),
            }
            let device_ok = state.device_principal(&local.device, now).is_some();
            text.push_str(&format!(
                "device   {}\n",
                if device_ok { "certified" } else { "not certified" }
            ));
            js["device_certified"] = json!(device_ok);
        }
    }
    text.push_str(&format!("store    {}\n", local.store.path().display()));
    ctx.print(text, js);
    Ok(())
}

pub fn up(ctx: &Ctx, args: &UpArgs) -> Result<()> {
    if !ctx.home.is_initialised() {
        init(ctx, None, None)?;
    }
    {
        let mut local = Local::open(ctx.home.clone())?;
        if local.state().is_none() {
            let me = member_name(&local)?;
            local.create_org(&args.org_name, &me, &ctx.pass, now())?;
        }
        local.ensure_device_cert(&ctx.pass, now())?;
    }
    let mdns = !(args.no_mdns || std::env::var("OUTPOST_MDNS").is_ok_and(|v| v.eq_ignore_ascii_case("off")));
    let parse = |list: &[String]| -> Result<Vec<libp2p::Multiaddr>> {
        list.iter()
            .map(|a| {
                a.parse()
                    .with_context(|| format!("{a:?} is not a multiaddr such as /ip4/127.0.0.1/tcp/4001"))
            })
            .collect()
    };
    let file = outpost_node::network_file::load(ctx.home.dir())?;
    let mut peers = file.peers;
    for p in &args.peer {
        peers.push(outpost_node::network_file::parse_peer("--peer", p)?);
    }
    let mut relays = file.relays;
    for r in &args.relay {
        relays.push(outpost_node::network_file::parse_relay("--relay", r)?);
    }
    let config = outpost_node::daemon::DaemonConfig {
        listen: parse(&args.listen)?,
        peers,
        relays,
        relay_server: args.relay_server || file.relay_server,
        mdns,
        api: args
            .api
            .parse()
            .with_context(|| format!("--api {:?} is not an address such as 127.0.0.1:7447", args.api))?,
        public_api: match (&args.public_api, &args.tls_cert, &args.tls_key) {
            (Some(addr), Some(cert), Some(key)) => Some(outpost_node::daemon::PublicApi {
                addr: addr
                    .parse()
                    .with_context(|| format!("--public-api {addr:?} is not an address such as 0.0.0.0:7448"))?,
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
    };
    let relay_server = config.relay_server;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let pass = match ctx.pass.get() {
        Some(p) => outpost_node::Passphrase::new(p),
        None => outpost_node::Passphrase::default(),
    };
    let json = ctx.json;
    let home = ctx.home.clone();
    runtime.block_on(async move {
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        outpost_node::daemon::run(home, pass, config, shutdown, |shared| {
            let listen: Vec<String> = shared.listen_addrs().iter().map(|a| a.to_string()).collect();
            if json {
                println!("{}", json!({"peer_id": shared.client.peer_id.to_string(), "listen": listen, "mdns": mdns, "relay_server": relay_server}));
            } else {
                println!("node up: peer id {}", shared.client.peer_id);
                for a in &listen {
                    println!("  listening on {a}");
                }
                if relay_server {
                    println!("  relaying for the org's members");
                }
                println!("  mDNS {}; API and token in api.json in the home directory; Ctrl-C stops", if mdns { "on" } else { "off" });
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
        })
        .await
    })
}
