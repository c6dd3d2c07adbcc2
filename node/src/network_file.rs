//! `<home>/network.toml`: the peers a node keeps connected, the relays it
//! listens through, and whether it serves as a relay.
//!
//! ```toml
//! # Peers to keep connected: dialled at start, and again (waiting 1 s,
//! # doubling to 60 s) whenever they are not connected.
//! peers = [
//!     "/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWAbc...",
//!     "/ip4/203.0.113.20/udp/4001/quic-v1/p2p/12D3KooWDef...",
//! ]
//! # Relays to listen through: others reach this node at
//! # <relay>/p2p-circuit/p2p/<this node's peer id>.
//! relays = ["/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWGhi..."]
//! # Relay connections between other members of the org.
//! relay_server = false
//! ```
//!
//! Every key is optional; a missing file is an empty one. Unknown keys are
//! errors, so that a misspelt key is not silently ignored. The flags of
//! `outpost up` (`--peer`, `--relay`, `--relay-server`) add to the file.

use anyhow::{Context, Result};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's name in the home directory.
pub const FILE_NAME: &str = "network.toml";
/// The largest file read, in bytes.
pub const FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The file as written.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    peers: Vec<String>,
    #[serde(default)]
    relays: Vec<String>,
    #[serde(default)]
    relay_server: bool,
}

/// What the file says, checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetworkFile {
    /// Peers to keep connected.
    pub peers: Vec<Multiaddr>,
    /// Relays to listen through, each ending with `/p2p/<relay id>`.
    pub relays: Vec<Multiaddr>,
    /// Serve as a relay.
    pub relay_server: bool,
}

/// The path of the file in the home directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Parses `text` as a peer's address; `what` names where it came from, for
/// the error.
pub fn parse_peer(what: &str, text: &str) -> Result<Multiaddr> {
    text.trim()
        .parse()
        .with_context(|| format!("{what} {text:?} is not a multiaddr such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW..."))
}

/// Parses `text` as a relay's address, which must end with the relay's
/// peer id; `what` names where it came from, for the error.
pub fn parse_relay(what: &str, text: &str) -> Result<Multiaddr> {
    let addr = parse_peer(what, text)?;
    match addr.iter().last() {
        Some(Protocol::P2p(_)) => Ok(addr),
        _ => anyhow::bail!(
            "{what} {text:?} does not end with /p2p/<relay peer id>: add the relay's peer id (`outpost status` on the relay shows it)"
        ),
    }
}

/// Parses the file's text; `origin` names the file, for errors.
pub fn parse(origin: &str, text: &str) -> Result<NetworkFile> {
    let raw: Raw = toml::from_str(text).with_context(|| {
        format!("{origin} is not valid: the keys are peers = [\"<multiaddr>\", ...], relays = [\"<multiaddr>\", ...] and relay_server = true|false (see docs/operations.md)")
    })?;
    Ok(NetworkFile {
        peers: raw
            .peers
            .iter()
            .map(|p| parse_peer(&format!("in {origin}, the peer"), p))
            .collect::<Result<_>>()?,
        relays: raw
            .relays
            .iter()
            .map(|r| parse_relay(&format!("in {origin}, the relay"), r))
            .collect::<Result<_>>()?,
        relay_server: raw.relay_server,
    })
}

/// Reads `<dir>/network.toml`; a missing file is an empty one.
pub fn load(dir: &Path) -> Result<NetworkFile> {
    let path = path(dir);
    let origin = path.display().to_string();
    let text = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NetworkFile::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {origin}")),
        Ok(meta) if meta.len() > FILE_BYTES_MAX => {
            anyhow::bail!(
                "{origin} is {} bytes, over the limit of {FILE_BYTES_MAX}: it should list a few peers and relays",
                meta.len()
            )
        }
        Ok(_) => std::fs::read_to_string(&path).with_context(|| format!("cannot read {origin}"))?,
    };
    parse(&origin, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    #[test]
    fn reads_every_key_and_comments() {
        let text = format!(
            "# the office\npeers = [\"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}\", \"/ip4/127.0.0.1/tcp/4002\"]\n\
             relays = [\"/ip4/127.0.0.1/tcp/4003/p2p/{PEER}\"] # the relay\nrelay_server = true\n"
        );
        let file = parse("network.toml", &text).unwrap();
        assert_eq!(file.peers.len(), 2);
        assert_eq!(
            file.relays[0].to_string(),
            format!("/ip4/127.0.0.1/tcp/4003/p2p/{PEER}")
        );
        assert!(file.relay_server);
        assert_eq!(parse("network.toml", "").unwrap(), NetworkFile::default());
    }

    #[test]
    fn errors_name_the_problem() {
        let err = format!("{:#}", parse("f.toml", "peer = []").unwrap_err());
        assert!(err.contains("f.toml is not valid") && err.contains("peer"), "{err}");
        let err = format!("{:#}", parse("f.toml", "peers = [\"not an address\"]").unwrap_err());
        assert!(err.contains("\"not an address\" is not a multiaddr"), "{err}");
        let err = format!(
            "{:#}",
            parse("f.toml", "relays = [\"/ip4/127.0.0.1/tcp/1\"]").unwrap_err()
        );
        assert!(err.contains("does not end with /p2p/"), "{err}");
    }

    #[test]
    fn a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), NetworkFile::default());
        std::fs::write(path(dir.path()), "relay_server = true\n").unwrap();
        assert!(load(dir.path()).unwrap().relay_server);
    }
}
