//! Flood control per user per room: a sliding window of accepted sends, and a mute for
//! users who keep hitting it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// `count` messages per `per`, parsed from `"3/2s"` (or `"10/500ms"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: usize,
    pub per: Duration,
}

impl RateLimit {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad =
            || format!("danmaku.rate {raw:?}: expected COUNT/DURATION such as 3/2s or 10/500ms");
        let (count, per) = raw.split_once('/').ok_or_else(bad)?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let per = if let Some(ms) = per.strip_suffix("ms") {
            Duration::from_millis(ms.parse().map_err(|_| bad())?)
        } else if let Some(s) = per.strip_suffix('s') {
            Duration::from_secs(s.parse().map_err(|_| bad())?)
        } else {
            return Err(bad());
        };
        if count == 0 || per.is_zero() {
            return Err(bad());
        }
        Ok(Self { count, per })
    }
}

/// Rejections within `STRIKE_WINDOW` that earn a mute.
const STRIKES_TO_MUTE: usize = 5;
const STRIKE_WINDOW: Duration = Duration::from_secs(10);
/// How long a flooding user is muted.
pub const FLOOD_MUTE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct UserWindow {
    sent: VecDeque<Instant>,
    strikes: VecDeque<Instant>,
}

/// What the limiter decided about one send.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Over the rate: retry after this long.
    Limited(Duration),
    /// Over the rate again and again: muted for `FLOOD_MUTE`.
    Muted,
}

/// Per-user windows for one room.
pub struct FloodControl {
    limit: RateLimit,
    users: HashMap<String, UserWindow>,
}

impl FloodControl {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            users: HashMap::new(),
        }
    }

    /// `user`'s window with the sends older than the rate's period dropped.
    fn window(&mut self, user: &str, now: Instant) -> &mut UserWindow {
        let per = self.limit.per;
        let w = self.users.entry(user.to_string()).or_default();
        while w.sent.front().is_some_and(|t| now - *t >= per) {
            w.sent.pop_front();
        }
        w
    }

    /// Records a send attempt by `user` at `now` and says whether it may go through.
    pub fn check(&mut self, user: &str, now: Instant) -> Verdict {
        let limit = self.limit;
        let w = self.window(user, now);
        if w.sent.len() < limit.count {
            w.sent.push_back(now);
            return Verdict::Accept;
        }
        while w.strikes.front().is_some_and(|t| now - *t >= STRIKE_WINDOW) {
            w.strikes.pop_front();
        }
        w.strikes.push_back(now);
        if w.strikes.len() >= STRIKES_TO_MUTE {
            w.strikes.clear();
            return Verdict::Muted;
        }
        // Sends counted from other nodes can overfill the window: the next send may go once
        // all but `count - 1` of them have aged out.
        let freeing = w.sent[w.sent.len() - limit.count];
        Verdict::Limited(limit.per - (now - freeing))
    }

    /// Counts a send by `user` that another node accepted at about `now`, so a user's
    /// sockets on several nodes share one rate.
    pub fn count_elsewhere(&mut self, user: &str, now: Instant) {
        self.window(user, now).sent.push_back(now);
    }

    /// Forgets users with nothing recent, so the map does not grow with every visitor.
    pub fn prune(&mut self, now: Instant) {
        let per = self.limit.per.max(STRIKE_WINDOW);
        self.users.retain(|_, w| {
            w.sent.back().is_some_and(|t| now - *t < per)
                || w.strikes.back().is_some_and(|t| now - *t < per)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_from_count_slash_duration() {
        assert_eq!(
            RateLimit::parse("3/2s").unwrap(),
            RateLimit {
                count: 3,
                per: Duration::from_secs(2)
            }
        );
        assert_eq!(
            RateLimit::parse("10/500ms").unwrap(),
            RateLimit {
                count: 10,
                per: Duration::from_millis(500)
            }
        );
        for bad in ["3", "0/2s", "3/0s", "x/2s", "3/2h", ""] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fourth_message_in_two_seconds_waits_for_the_first_to_age_out() {
        let mut fc = FloodControl::new(RateLimit::parse("3/2s").unwrap());
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(
                fc.check("u", t0 + Duration::from_millis(i * 100)),
                Verdict::Accept
            );
        }
        assert_eq!(
            fc.check("u", t0 + Duration::from_millis(500)),
            Verdict::Limited(Duration::from_millis(1500))
        );
        assert_eq!(
            fc.check("u", t0 + Duration::from_millis(2000)),
            Verdict::Accept
        );
        assert_eq!(
            fc.check("other", t0),
            Verdict::Accept,
            "limits are per user"
        );
    }

    #[test]
    fn sends_accepted_on_other_nodes_count_against_the_same_rate() {
        let mut fc = FloodControl::new(RateLimit::parse("3/2s").unwrap());
        let t0 = Instant::now();
        fc.count_elsewhere("u", t0);
        fc.count_elsewhere("u", t0 + Duration::from_millis(100));
        assert_eq!(
            fc.check("u", t0 + Duration::from_millis(200)),
            Verdict::Accept
        );
        assert_eq!(
            fc.check("u", t0 + Duration::from_millis(300)),
            Verdict::Limited(Duration::from_millis(1700)),
            "two sends elsewhere and one here fill the window"
        );
        let mut busy = FloodControl::new(RateLimit::parse("3/2s").unwrap());
        for ms in [0, 100, 200, 300] {
            busy.count_elsewhere("u", t0 + Duration::from_millis(ms));
        }
        assert_eq!(
            busy.check("u", t0 + Duration::from_millis(400)),
            Verdict::Limited(Duration::from_millis(1700)),
            "four sends elsewhere: free again when the second has aged out"
        );
        fc.count_elsewhere("u", t0 + Duration::from_millis(2100));
        assert_eq!(
            fc.check("u", t0 + Duration::from_millis(2150)),
            Verdict::Accept,
            "the old ones aged out"
        );
    }

    #[test]
    fn a_user_who_keeps_flooding_is_muted() {
        let mut fc = FloodControl::new(RateLimit::parse("3/2s").unwrap());
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..8).map(|_| fc.check("u", t0)).collect();
        assert_eq!(
            &verdicts[..3],
            &[Verdict::Accept, Verdict::Accept, Verdict::Accept]
        );
        assert!(matches!(verdicts[3], Verdict::Limited(_)));
        assert_eq!(verdicts[7], Verdict::Muted);
    }
}
