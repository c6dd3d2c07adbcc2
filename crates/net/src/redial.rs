//! Keeping configured peers and relays connected: which to dial when.
//!
//! A pure state machine, with no swarm inside: the event loop tells it what
//! happened (a dial started, failed, connected; a peer was admitted; a
//! connection dropped) and the time, and asks [`Redial::due`] which targets
//! to dial now. Each target waits [`Backoff::min`] after its first failure,
//! doubling up to [`Backoff::max`], and goes back to `min` once the peer
//! behind it is admitted (a peer that connects and is then refused keeps
//! backing off).
//!
//! The same machine keeps relay listeners open: there the "dial" is a
//! `listen_on(<relay>/p2p-circuit)` and "admitted" is the relay confirming
//! the reservation.

use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};
use std::time::{Duration, Instant};

/// How long to wait before trying a target again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait after a failure, and the wait after a success.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 60 s.
    fn default() -> Backoff {
        Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

/// Where one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected; try again at this time.
    Waiting(Instant),
    /// A dial (or listen) is under way since this time.
    Trying(Instant),
    /// Connected (or listening).
    Up,
}

/// One address to keep connected.
#[derive(Debug, Clone)]
pub struct Target {
    /// The address as configured.
    pub addr: Multiaddr,
    /// The peer behind it: from `/p2p/<id>` at its end, or learnt on the
    /// first connection.
    pub peer: Option<PeerId>,
    /// Where it stands.
    pub state: State,
    /// The wait after the next failure.
    delay: Duration,
}

/// The peer id at the end of `addr` (`.../p2p/<id>`), if any.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// For a relayed address `<relay>/p2p/<relay id>/p2p-circuit[/p2p/<id>]`:
/// the relay's own address (up to its peer id) and its peer id. `None` for
/// a direct address, or a relayed one that does not name its relay.
pub fn relay_of(addr: &Multiaddr) -> Option<(Multiaddr, PeerId)> {
    let mut prefix = Multiaddr::empty();
    let mut last = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::P2pCircuit => return last.map(|relay| (prefix, relay)),
            Protocol::P2p(peer) => last = Some(peer),
            _ => last = None,
        }
        prefix.push(protocol);
    }
    None
}

/// The set of targets and their timers.
#[derive(Debug, Clone)]
pub struct Redial {
    backoff: Backoff,
    /// A try with no outcome after this long counts as failed.
    try_timeout: Duration,
    targets: Vec<Target>,
}

impl Redial {
    /// Targets for `addrs`, all due at `now`.
    pub fn new(
        addrs: impl IntoIterator<Item = Multiaddr>,
        backoff: Backoff,
        try_timeout: Duration,
        now: Instant,
    ) -> Redial {
        let mut targets: Vec<Target> = Vec::new();
        for addr in addrs {
            if targets.iter().any(|t| t.addr == addr) {
                continue;
            }
            targets.push(Target {
                peer: peer_of(&addr),
                addr,
                state: State::Waiting(now),
                delay: backoff.min,
            });
        }
        Redial {
            backoff,
            try_timeout,
            targets,
        }
    }

    /// The targets, in configuration order (their index is their id).
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Targets to try now. `is_up(index, target)` says whether the target
    /// is up (connected, by our dial or another way; or listening): those
    /// are marked up and not returned. Returned targets are marked as being
    /// tried.
    pub fn due(&mut self, now: Instant, mut is_up: impl FnMut(usize, &Target) -> bool) -> Vec<usize> {
        let mut due = Vec::new();
        for i in 0..self.targets.len() {
            let up = is_up(i, &self.targets[i]);
            let target = &mut self.targets[i];
            match target.state {
                _ if up => target.state = State::Up,
                // It was up and is no longer: wait before dialling again.
                State::Up => self.lost_at(i, now),
                State::Trying(since) if now.duration_since(since) > self.try_timeout => self.lost_at(i, now),
                State::Trying(_) => {}
                State::Waiting(at) if at <= now => {
                    target.state = State::Trying(now);
                    due.push(i);
                }
                State::Waiting(_) => {}
            }
        }
        due
    }

    /// Target `i` cannot be tried yet (it waits for something else, such
    /// as its relay): it is due again at `at`, and its wait does not grow.
    pub fn postpone(&mut self, i: usize, at: Instant) {
        self.targets[i].state = State::Waiting(at);
    }

    /// The try of target `i` failed (or its connection closed): wait, then
    /// try again, waiting longer next time.
    pub fn failed(&mut self, i: usize, now: Instant) {
        self.lost_at(i, now);
    }

    fn lost_at(&mut self, i: usize, now: Instant) {
        let max = self.backoff.max;
        let target = &mut self.targets[i];
        target.state = State::Waiting(now + target.delay);
        target.delay = (target.delay * 2).min(max);
    }

    /// Target `i` is up; `peer` is who answered, when known.
    pub fn connected(&mut self, i: usize, peer: Option<PeerId>) {
        let target = &mut self.targets[i];
        target.state = State::Up;
        if target.peer.is_none() {
            target.peer = peer;
        }
    }

    /// `peer` proved itself: its targets start from the shortest wait again.
    pub fn succeeded(&mut self, peer: &PeerId) {
        for target in &mut self.targets {
            if target.peer.as_ref() == Some(peer) {
                target.delay = self.backoff.min;
            }
        }
    }

    /// Target `i` succeeded (for targets with no peer behind them, such as
    /// relay listeners): its wait goes back to the shortest.
    pub fn succeeded_at(&mut self, i: usize) {
        self.targets[i].delay = self.backoff.min;
        self.targets[i].state = State::Up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(peer: &PeerId) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/4001/p2p/{peer}")
            .parse()
            .expect("a valid address")
    }

    #[test]
    fn waits_double_up_to_the_maximum_and_reset_on_success() {
        let peer = PeerId::random();
        let t0 = Instant::now();
        let backoff = Backoff::default();
        let mut r = Redial::new([addr(&peer)], backoff, Duration::from_secs(30), t0);
        assert_eq!(r.targets()[0].peer, Some(peer));
        let mut now = t0;
        assert_eq!(r.due(now, |_, _| false), vec![0]);
        assert!(r.due(now, |_, _| false).is_empty(), "a try under way is not repeated");
        let mut waits = Vec::new();
        for _ in 0..9 {
            r.failed(0, now);
            let State::Waiting(at) = r.targets()[0].state else {
                panic!("waiting after a failure")
            };
            waits.push((at - now).as_secs());
            assert!(r.due(at - Duration::from_millis(1), |_, _| false).is_empty());
            now = at;
            assert_eq!(r.due(now, |_, _| false), vec![0]);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);

        r.connected(0, Some(peer));
        r.succeeded(&peer);
        // The connection drops: the next dial comes after the shortest wait.
        assert!(r.due(now, |_, _| false).is_empty());
        assert_eq!(r.targets()[0].state, State::Waiting(now + Duration::from_secs(1)));
        assert_eq!(r.due(now + Duration::from_secs(1), |_, _| false), vec![0]);
    }

    #[test]
    fn a_peer_connected_otherwise_is_not_dialled() {
        let peer = PeerId::random();
        let t0 = Instant::now();
        let mut r = Redial::new(
            [addr(&peer), addr(&peer)],
            Backoff::default(),
            Duration::from_secs(30),
            t0,
        );
        assert_eq!(r.targets().len(), 1, "duplicates are merged");
        assert!(r.due(t0, |_, t| t.peer == Some(peer)).is_empty());
        assert_eq!(r.targets()[0].state, State::Up);
    }

    #[test]
    fn a_connected_but_refused_peer_keeps_backing_off() {
        let t0 = Instant::now();
        let plain: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("a valid address");
        let mut r = Redial::new([plain], Backoff::default(), Duration::from_secs(30), t0);
        assert_eq!(r.targets()[0].peer, None);
        assert_eq!(r.due(t0, |_, _| false), vec![0]);
        let learnt = PeerId::random();
        r.connected(0, Some(learnt));
        assert_eq!(r.targets()[0].peer, Some(learnt), "the peer is learnt on connection");
        // Refused: the connection closes without the peer being admitted.
        assert!(r.due(t0, |_, _| false).is_empty());
        r.due(t0 + Duration::from_secs(1), |_, _| false);
        r.failed(0, t0 + Duration::from_secs(1));
        assert_eq!(
            r.targets()[0].state,
            State::Waiting(t0 + Duration::from_secs(3)),
            "the second wait is twice the first"
        );
    }

    #[test]
    fn the_relay_of_a_circuit_address() {
        let (relay, peer) = (PeerId::random(), PeerId::random());
        let direct: Multiaddr = format!("/ip4/127.0.0.1/tcp/4001/p2p/{relay}").parse().expect("valid");
        assert_eq!(relay_of(&direct), None);
        let circuit = direct.clone().with(Protocol::P2pCircuit).with(Protocol::P2p(peer));
        assert_eq!(relay_of(&circuit), Some((direct.clone(), relay)));
        assert_eq!(
            relay_of(&direct.clone().with(Protocol::P2pCircuit)),
            Some((direct, relay))
        );
        let anonymous: Multiaddr = "/ip4/127.0.0.1/tcp/4001/p2p-circuit".parse().expect("valid");
        assert_eq!(relay_of(&anonymous), None);
        assert_eq!(peer_of(&circuit), Some(peer));
    }

    #[test]
    fn postponing_keeps_the_wait() {
        let t0 = Instant::now();
        let mut r = Redial::new(
            [addr(&PeerId::random())],
            Backoff::default(),
            Duration::from_secs(30),
            t0,
        );
        assert_eq!(r.due(t0, |_, _| false), vec![0]);
        r.postpone(0, t0);
        assert_eq!(r.due(t0, |_, _| false), vec![0]);
        r.failed(0, t0);
        assert_eq!(r.targets()[0].state, State::Waiting(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_try_with_no_outcome_times_out() {
        let t0 = Instant::now();
        let peer = PeerId::random();
        let mut r = Redial::new([addr(&peer)], Backoff::default(), Duration::from_secs(30), t0);
        assert_eq!(r.due(t0, |_, _| false), vec![0]);
        assert!(r.due(t0 + Duration::from_secs(30), |_, _| false).is_empty());
        assert!(r.due(t0 + Duration::from_secs(31), |_, _| false).is_empty());
        assert_eq!(r.targets()[0].state, State::Waiting(t0 + Duration::from_secs(32)));
    }
}
