//! When an `on_demand` source should run: while someone watches it on any node, and until
//! `linger` after the last viewer left. An admin's stop holds the source off for viewers
//! already watching; a new viewer (here or on another node) lifts it. Plain data and
//! timestamps: the pipeline asks, this answers.

use std::time::{Duration, Instant};

/// What the source should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Start,
    Stop,
    /// Nobody watches; ask again after this long (the linger still runs).
    AskAgainIn(Duration),
}

#[derive(Debug)]
pub struct OnDemand {
    enabled: bool,
    /// An admin stopped the source.
    held_off: bool,
    /// Another node's viewer asked for the source; it counts until then.
    demanded_until: Option<Instant>,
    idle_since: Option<Instant>,
    linger: Duration,
    demand_lasts: Duration,
}

impl OnDemand {
    /// `enabled`: the source runs on demand at all. `linger`: how long it outlives its last
    /// viewer. `demand_lasts`: how long another node's request counts.
    pub fn new(enabled: bool, linger: Duration, demand_lasts: Duration) -> Self {
        Self {
            enabled,
            held_off: false,
            demanded_until: None,
            idle_since: None,
            linger,
            demand_lasts,
        }
    }

    pub fn is_held_off(&self) -> bool {
        self.held_off
    }

    /// Records an admin's stop (`true`) or start (`false`).
    pub fn hold_off(&mut self, stopped: bool) {
        self.held_off = stopped;
    }

    /// A new viewer here or elsewhere. `true` when that lifted an admin's stop (a stopped
    /// source that is not on demand waits for an admin's start).
    pub fn wake(&mut self) -> bool {
        self.enabled && std::mem::take(&mut self.held_off)
    }

    /// Another node has a new viewer for this source.
    pub fn demanded(&mut self, now: Instant) {
        self.demanded_until = Some(now + self.demand_lasts);
    }

    /// Whether the source should run when it is this node's to run and nothing else holds
    /// it back: always for a source that is not on demand, else while there is demand.
    pub fn wants(&self, viewers: u64, now: Instant) -> bool {
        !self.held_off && (!self.enabled || self.demand(viewers, now) > 0)
    }

    fn demand(&self, viewers: u64, now: Instant) -> u64 {
        let asked = self.demanded_until.is_some_and(|t| t > now);
        viewers + u64::from(asked)
    }

    /// `viewers`: video viewers on every node; `running`: the source is wanted now.
    pub fn review(&mut self, viewers: u64, running: bool, now: Instant) -> Verdict {
        if !self.enabled {
            return Verdict::Keep;
        }
        if self.demand(viewers, now) > 0 {
            self.idle_since = None;
            return if running || self.held_off {
                Verdict::Keep
            } else {
                Verdict::Start
            };
        }
        if !running {
            self.idle_since = None;
            return Verdict::Keep;
        }
        let idle_since = *self.idle_since.get_or_insert(now);
        let idle = now.saturating_duration_since(idle_since);
        if idle >= self.linger {
            self.idle_since = None;
            Verdict::Stop
        } else {
            Verdict::AskAgainIn(self.linger - idle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy() -> OnDemand {
        OnDemand::new(true, secs(10), secs(3))
    }

    #[test]
    fn a_viewer_starts_an_idle_source() {
        let mut p = policy();
        assert_eq!(p.review(1, false, Instant::now()), Verdict::Start);
    }

    #[test]
    fn the_source_lingers_after_the_last_viewer_then_stops() {
        let mut p = policy();
        let t = Instant::now();
        assert_eq!(p.review(0, true, t), Verdict::AskAgainIn(secs(10)));
        assert_eq!(p.review(0, true, t + secs(4)), Verdict::AskAgainIn(secs(6)));
        assert_eq!(p.review(0, true, t + secs(10)), Verdict::Stop);
    }

    #[test]
    fn a_viewer_coming_back_cancels_the_linger() {
        let mut p = policy();
        let t = Instant::now();
        p.review(0, true, t);
        assert_eq!(p.review(1, true, t + secs(5)), Verdict::Keep);
        assert_eq!(
            p.review(0, true, t + secs(9)),
            Verdict::AskAgainIn(secs(10)),
            "the linger starts again from the new last leave"
        );
    }

    #[test]
    fn another_nodes_demand_counts_for_a_while() {
        let mut p = policy();
        let t = Instant::now();
        p.demanded(t);
        assert_eq!(p.review(0, false, t + secs(1)), Verdict::Start);
        assert_eq!(
            p.review(0, false, t + secs(4)),
            Verdict::Keep,
            "expired demand does not start it"
        );
    }

    #[test]
    fn an_admins_stop_holds_off_watching_viewers_until_a_new_one_comes() {
        let mut p = policy();
        p.hold_off(true);
        assert_eq!(p.review(2, false, Instant::now()), Verdict::Keep);
        assert!(!p.wants(2, Instant::now()));
        assert!(p.wake(), "a new viewer lifts the stop");
        assert_eq!(p.review(3, false, Instant::now()), Verdict::Start);
    }

    #[test]
    fn a_source_not_on_demand_is_left_to_the_admin() {
        let mut p = OnDemand::new(false, secs(10), secs(3));
        assert_eq!(p.review(0, true, Instant::now()), Verdict::Keep);
        assert!(p.wants(0, Instant::now()));
        p.hold_off(true);
        assert!(!p.wake(), "only an admin's start lifts the stop");
        assert!(!p.wants(0, Instant::now()));
    }
}
