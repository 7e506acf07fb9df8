//! Who may not send in a room, and until when: moderators' bans (loaded from the store and
//! heard from other nodes) and the flood mute. An expired mute is forgotten when looked at.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

#[derive(Debug, Default)]
pub struct Mutes(HashMap<String, SystemTime>);

impl Mutes {
    pub fn mute(&mut self, user_id: String, until: SystemTime) {
        self.0.insert(user_id, until);
    }

    pub fn extend(&mut self, bans: impl IntoIterator<Item = (String, SystemTime)>) {
        self.0.extend(bans);
    }

    /// Ends `user_id`'s mute or ban.
    pub fn lift(&mut self, user_id: &str) {
        self.0.remove(user_id);
    }

    /// How long `user_id` stays muted at `now`, if at all.
    pub fn left(&mut self, user_id: &str, now: SystemTime) -> Option<Duration> {
        let until = *self.0.get(user_id)?;
        match until.duration_since(now) {
            Ok(left) if !left.is_zero() => Some(left),
            _ => {
                self.0.remove(user_id);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mute_holds_until_its_end_and_is_then_forgotten() {
        let mut mutes = Mutes::default();
        let now = SystemTime::now();
        mutes.mute("u1".into(), now + Duration::from_secs(60));
        assert_eq!(mutes.left("u1", now), Some(Duration::from_secs(60)));
        assert_eq!(mutes.left("u2", now), None, "others may send");
        assert_eq!(mutes.left("u1", now + Duration::from_secs(60)), None);
        assert!(mutes.0.is_empty(), "the expired mute is gone");
    }

    #[test]
    fn a_later_ban_replaces_an_earlier_one() {
        let mut mutes = Mutes::default();
        let now = SystemTime::now();
        mutes.extend([("u1".to_string(), now + Duration::from_secs(5))]);
        mutes.mute("u1".into(), now + Duration::from_secs(600));
        assert_eq!(mutes.left("u1", now), Some(Duration::from_secs(600)));
    }
}
