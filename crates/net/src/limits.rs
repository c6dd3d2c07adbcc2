//! Per-peer limits on misbehaviour: a score of the invalid items each peer
//! sent, as a leaky bucket, deciding when its messages are dropped for a
//! while (throttled) and when it is disconnected and refused for a while
//! (banned).
//!
//! Pure: time comes in as an argument ([`Instant`]s the caller reads), so a
//! test drives it deterministically. The network loop owns one [`Scores`]
//! and performs what it answers.
//!
//! The policy: each invalid item adds its [`Offence::weight`] to the peer's
//! score, and the score leaks away at [`Policy::forgive_per_sec`] points a
//! second. At [`Policy::throttle_at`] the peer is throttled for
//! [`Policy::throttle_for`]: everything it sends is dropped unread, and
//! each dropped message still adds [`Offence::WhileThrottled`]. At
//! [`Policy::ban_at`] it is banned for [`Policy::ban_for`]: disconnected,
//! and refused when it connects again.
//!
//! Tolerance: honest nodes check what they store and forward, so an honest
//! peer sends an invalid item only by accident (a version skew, a bug). At
//! the defaults it may send one invalid item a second, forever, without
//! being throttled, and a burst of 49 at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Something invalid a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Offence {
    /// A frame that could not be read: truncated, or longer than the limit.
    BadFrame,
    /// Bytes that do not decode as what the protocol carries.
    Malformed,
    /// A signature that does not verify.
    BadSignature,
    /// Well formed and signed, but not acceptable from this peer: an
    /// envelope on another scope's topic, for a document the peer could not
    /// hold, whose declared document or dependencies do not match, or that
    /// can never be valid.
    Unacceptable,
    /// A message sent while throttled (dropped unread).
    WhileThrottled,
}

impl Offence {
    /// Points the offence adds to the peer's score.
    pub fn weight(self) -> u32 {
        match self {
            // Reading a frame costs us its bytes; a frame of garbage is
            // rarely an accident.
            Offence::BadFrame => 5,
            Offence::Malformed | Offence::BadSignature | Offence::Unacceptable => 2,
            Offence::WhileThrottled => 1,
        }
    }

    /// A name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Offence::BadFrame => "bad_frame",
            Offence::Malformed => "malformed",
            Offence::BadSignature => "bad_signature",
            Offence::Unacceptable => "unacceptable",
            Offence::WhileThrottled => "while_throttled",
        }
    }
}

/// The thresholds and periods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Points that leak away each second.
    pub forgive_per_sec: f64,
    /// Score at which a peer is throttled.
    pub throttle_at: f64,
    /// How long a throttled peer's messages are dropped.
    pub throttle_for: Duration,
    /// Score at which a peer is banned.
    pub ban_at: f64,
    /// How long a banned peer is refused.
    pub ban_for: Duration,
    /// Most peers scored at once (beyond, the lowest scores are forgotten).
    pub peers_max: usize,
    /// Most peers banned at once (beyond, the bans ending first end now).
    pub banned_max: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            forgive_per_sec: 2.0,
            throttle_at: 100.0,
            throttle_for: Duration::from_secs(30),
            ban_at: 400.0,
            ban_for: Duration::from_secs(10 * 60),
            peers_max: 4096,
            banned_max: 1024,
        }
    }
}

/// What to do with a peer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on as usual.
    Pass,
    /// Drop what it sends until then.
    Throttled {
        /// when the throttle ends
        until: Instant,
    },
    /// Disconnect it and refuse it until then.
    Banned {
        /// when the ban ends
        until: Instant,
    },
}

/// What changed with one offence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: still passing, or already throttled or banned.
    None,
    /// The peer has just been throttled.
    Throttled,
    /// The peer has just been banned.
    Banned,
}

#[derive(Debug, Clone, Copy)]
struct Score {
    points: f64,
    at: Instant,
    throttled_until: Option<Instant>,
}

/// The scores of the peers that misbehaved, and the bans.
#[derive(Debug)]
pub struct Scores<P> {
    policy: Policy,
    scores: HashMap<P, Score>,
    banned: HashMap<P, Instant>,
}

impl<P: Copy + Eq + Hash> Scores<P> {
    /// No scores yet.
    pub fn new(policy: Policy) -> Scores<P> {
        Scores {
            policy,
            scores: HashMap::new(),
            banned: HashMap::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// `peer`'s score at `now` (zero if it never misbehaved).
    pub fn score(&self, peer: &P, now: Instant) -> f64 {
        self.scores.get(peer).map_or(0.0, |s| self.leaked(s, now))
    }

    fn leaked(&self, s: &Score, now: Instant) -> f64 {
        let secs = now.saturating_duration_since(s.at).as_secs_f64();
        (s.points - secs * self.policy.forgive_per_sec).max(0.0)
    }

    /// Counts an offence of `peer` at `now`.
    pub fn offend(&mut self, peer: P, offence: Offence, now: Instant) -> Change {
        if self.banned.get(&peer).is_some_and(|&until| now < until) {
            return Change::None;
        }
        if !self.scores.contains_key(&peer) && self.scores.len() >= self.policy.peers_max {
            self.forget_lowest(now);
        }
        let policy = self.policy;
        let current = self.score(&peer, now);
        let entry = self.scores.entry(peer).or_insert(Score {
            points: 0.0,
            at: now,
            throttled_until: None,
        });
        entry.points = current + f64::from(offence.weight());
        entry.at = now;
        if entry.points >= policy.ban_at {
            self.scores.remove(&peer);
            if self.banned.len() >= policy.banned_max {
                self.end_first_ban(now);
            }
            self.banned.insert(peer, now + policy.ban_for);
            return Change::Banned;
        }
        let throttled = entry.throttled_until.is_some_and(|until| now < until);
        if !throttled && entry.points >= policy.throttle_at {
            entry.throttled_until = Some(now + policy.throttle_for);
            return Change::Throttled;
        }
        Change::None
    }

    /// What to do with `peer` at `now`.
    pub fn verdict(&self, peer: &P, now: Instant) -> Verdict {
        if let Some(&until) = self.banned.get(peer)
            && now < until
        {
            return Verdict::Banned { until };
        }
        match self.scores.get(peer).and_then(|s| s.throttled_until) {
            Some(until) if now < until => Verdict::Throttled { until },
            _ => Verdict::Pass,
        }
    }

    /// Peers banned at `now`.
    pub fn banned_count(&self, now: Instant) -> usize {
        self.banned.values().filter(|&&until| now < until).count()
    }

    /// Peers throttled at `now`.
    pub fn throttled_count(&self, now: Instant) -> usize {
        self.scores
            .values()
            .filter(|s| s.throttled_until.is_some_and(|until| now < until))
            .count()
    }

    /// Forgets what no longer matters at `now`: ended bans, and scores
    /// that leaked away with no throttle running.
    pub fn expire(&mut self, now: Instant) {
        self.banned.retain(|_, until| now < *until);
        let policy = self.policy;
        self.scores.retain(|_, s| {
            let secs = now.saturating_duration_since(s.at).as_secs_f64();
            let points = s.points - secs * policy.forgive_per_sec;
            points > 0.0 || s.throttled_until.is_some_and(|until| now < until)
        });
    }

    fn forget_lowest(&mut self, now: Instant) {
        self.expire(now);
        if self.scores.len() < self.policy.peers_max {
            return;
        }
        let lowest = self
            .scores
            .iter()
            .map(|(p, s)| (*p, self.leaked(s, now)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(p, _)| p);
        if let Some(p) = lowest {
            self.scores.remove(&p);
        }
    }

    fn end_first_ban(&mut self, now: Instant) {
        self.banned.retain(|_, until| now < *until);
        if self.banned.len() < self.policy.banned_max {
            return;
        }
        if let Some(first) = self.banned.iter().min_by_key(|(_, until)| **until).map(|(p, _)| *p) {
            self.banned.remove(&first);
        }
    }

    /// How many peers are scored or banned (memory held).
    pub fn len(&self) -> usize {
        self.scores.len() + self.banned.len()
    }

    /// Whether no peer is scored or banned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_flood_is_throttled_then_banned_and_the_ban_ends() {
        let t0 = Instant::now();
        let mut s = Scores::new(Policy::default());
        let mut throttled_after = None;
        let mut banned_after = None;
        // 1000 forged signatures a second.
        for i in 0..1000u32 {
            let now = t0 + secs(f64::from(i) / 1000.0);
            match s.offend(1u8, Offence::BadSignature, now) {
                Change::Throttled => throttled_after = Some(i + 1),
                Change::Banned => {
                    banned_after = Some(i + 1);
                    break;
                }
                Change::None => {}
            }
        }
        // 100 points at 2 each, and one more for what leaked in 50 ms.
        assert_eq!(throttled_after, Some(51));
        let banned_after = banned_after.expect("banned within the flood");
        assert!((200..=202).contains(&banned_after), "{banned_after}");
        let now = t0 + secs(0.3);
        assert!(matches!(s.verdict(&1, now), Verdict::Banned { .. }));
        assert_eq!(s.banned_count(now), 1);
        // Offences while banned change nothing.
        assert_eq!(s.offend(1, Offence::BadFrame, now), Change::None);
        // Others are unaffected.
        assert_eq!(s.verdict(&2, now), Verdict::Pass);
        // The ban ends.
        let later = now + Policy::default().ban_for;
        assert_eq!(s.verdict(&1, later), Verdict::Pass);
        s.expire(later);
        assert!(s.is_empty());
    }

    #[test]
    fn an_honest_peer_with_an_occasional_invalid_item_is_never_throttled() {
        let t0 = Instant::now();
        let mut s = Scores::new(Policy::default());
        // One a second for an hour, and a burst of 49 at the start.
        for _ in 0..49 {
            assert_eq!(s.offend(7u8, Offence::Malformed, t0), Change::None);
        }
        for i in 1..3600 {
            let now = t0 + secs(f64::from(i));
            assert_eq!(s.offend(7u8, Offence::Malformed, now), Change::None, "at {i} s");
            assert_eq!(s.verdict(&7, now), Verdict::Pass);
        }
    }

    #[test]
    fn a_throttle_ends_and_the_score_leaks_away() {
        let t0 = Instant::now();
        let p = Policy::default();
        let mut s = Scores::new(p);
        for _ in 0..20 {
            s.offend(3u8, Offence::BadFrame, t0);
        }
        assert!(matches!(s.verdict(&3, t0), Verdict::Throttled { .. }));
        assert_eq!(s.throttled_count(t0), 1);
        let after = t0 + p.throttle_for;
        assert_eq!(s.verdict(&3, after), Verdict::Pass);
        // 100 points leak away in 50 s.
        assert!(s.score(&3, t0 + secs(25.0)) > 0.0);
        assert_eq!(s.score(&3, t0 + secs(50.0)), 0.0);
        s.expire(t0 + secs(50.0));
        assert!(s.is_empty());
    }

    #[test]
    fn dropped_messages_of_a_throttled_peer_lead_to_a_ban() {
        let t0 = Instant::now();
        let mut s = Scores::new(Policy::default());
        for _ in 0..50 {
            s.offend(4u8, Offence::BadSignature, t0);
        }
        assert!(matches!(s.verdict(&4, t0), Verdict::Throttled { .. }));
        let mut change = Change::None;
        for _ in 0..300 {
            change = s.offend(4u8, Offence::WhileThrottled, t0);
            if change != Change::None {
                break;
            }
        }
        assert_eq!(change, Change::Banned);
    }

    #[test]
    fn the_tables_are_bounded() {
        let t0 = Instant::now();
        let policy = Policy {
            peers_max: 8,
            banned_max: 4,
            ..Policy::default()
        };
        let mut s = Scores::new(policy);
        for peer in 0..100u32 {
            s.offend(peer, Offence::Malformed, t0);
            assert!(s.scores.len() <= 8);
        }
        for peer in 100..200u32 {
            let now = t0 + secs(f64::from(peer));
            for _ in 0..200 {
                s.offend(peer, Offence::BadSignature, now);
            }
            assert!(matches!(s.verdict(&peer, now), Verdict::Banned { .. }));
            assert!(s.banned.len() <= 4);
        }
    }
}
