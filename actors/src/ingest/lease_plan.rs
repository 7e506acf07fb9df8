//! The fair-share rule for live sources across nodes, as pure functions: what a node should
//! take and what it should give back, from what the database says now. The app's store
//! reads the inputs, carries out the steps and reports what really happened (a take can
//! lose a race to another node), so the rule itself is tested without a database.
//!
//! Each node aims at its share: the sources divided by the live nodes, rounded up. It takes
//! free sources while below its share, and any orphan (a lease expired a whole lease ago
//! and still free: the nodes below their share are gone or failing). Above its share while
//! another live node is below, it gives back one source per round, the one with the fewest
//! viewers, so sources move a step at a time without a stampede.

use std::collections::{HashMap, HashSet};

/// What a node knows at the start of a lease round.
#[derive(Debug, Clone, Copy)]
pub struct LeaseView<'a> {
    /// This node.
    pub node: &'a str,
    /// The other live nodes.
    pub others: &'a [String],
    /// Every source (room id), in a stable order.
    pub sources: &'a [String],
    /// Unexpired leases: room -> the node that holds it.
    pub holders: &'a HashMap<String, String>,
    /// Rooms whose lease expired a whole lease ago and was not taken since.
    pub orphans: &'a HashSet<String>,
}

impl LeaseView<'_> {
    /// Sources per live node, rounded up.
    pub fn share(&self) -> usize {
        self.sources.len().div_ceil(1 + self.others.len())
    }

    fn held_by(&self, node: &str) -> usize {
        self.holders.values().filter(|h| h.as_str() == node).count()
    }
}

/// The free sources this node should try to take, in order: while it holds fewer than its
/// share, and every orphan whatever it holds.
pub fn to_take(view: &LeaseView<'_>) -> Vec<String> {
    let share = view.share();
    let mut held = view.held_by(view.node);
    let mut take = Vec::new();
    for room in view.sources {
        if view.holders.contains_key(room) {
            continue;
        }
        if held < share || view.orphans.contains(room) {
            take.push(room.clone());
            held += 1;
        }
    }
    take
}

/// The source this node should give back after its takes (`view.holders` as they are now):
/// one, when it holds more than its share while another live node holds less; the one with
/// the fewest `viewers` (ties: the smallest room id).
pub fn to_give_back(view: &LeaseView<'_>, viewers: &HashMap<String, u64>) -> Option<String> {
    let share = view.share();
    let short = view.others.iter().any(|n| view.held_by(n) < share);
    if view.held_by(view.node) <= share || !short {
        return None;
    }
    view.holders
        .iter()
        .filter(|(_, holder)| holder.as_str() == view.node)
        .map(|(room, _)| room.clone())
        .min_by_key(|room| (viewers.get(room).copied().unwrap_or(0), room.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}")).collect()
    }

    fn held(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(room, node)| (room.to_string(), node.to_string()))
            .collect()
    }

    fn view<'a>(
        node: &'a str,
        others: &'a [String],
        sources: &'a [String],
        holders: &'a HashMap<String, String>,
        orphans: &'a HashSet<String>,
    ) -> LeaseView<'a> {
        LeaseView {
            node,
            others,
            sources,
            holders,
            orphans,
        }
    }

    #[test]
    fn a_node_alone_takes_every_free_source() {
        let (sources, none, orphans) = (rooms(3), HashMap::new(), HashSet::new());
        let v = view("a", &[], &sources, &none, &orphans);
        assert_eq!(v.share(), 3);
        assert_eq!(to_take(&v), sources);
        assert_eq!(to_give_back(&v, &HashMap::new()), None);
    }

    #[test]
    fn three_nodes_take_a_fair_share_each_rounded_up() {
        let sources = rooms(7);
        let others = vec!["b".to_string(), "c".to_string()];
        let orphans = HashSet::new();
        // b already holds three; a may take up to its share of three of the free ones.
        let holders = held(&[("r0", "b"), ("r1", "b"), ("r2", "b")]);
        let v = view("a", &others, &sources, &holders, &orphans);
        assert_eq!(v.share(), 3);
        assert_eq!(to_take(&v), ["r3", "r4", "r5"]);
    }

    #[test]
    fn a_node_at_its_share_still_takes_orphans() {
        let sources = rooms(4);
        let others = vec!["b".to_string()];
        let holders = held(&[("r0", "a"), ("r1", "a")]);
        let orphans: HashSet<String> = ["r3".to_string()].into();
        let v = view("a", &others, &sources, &holders, &orphans);
        assert_eq!(to_take(&v), ["r3"], "r2 is b's to take; r3 nobody took");
    }

    #[test]
    fn a_held_source_is_never_taken_again() {
        let sources = rooms(2);
        let holders = held(&[("r0", "b"), ("r1", "b")]);
        let orphans: HashSet<String> = ["r0".to_string()].into();
        let v = view("a", &[], &sources, &holders, &orphans);
        assert!(to_take(&v).is_empty());
    }

    #[test]
    fn over_its_share_while_another_is_short_a_node_gives_back_its_least_watched() {
        let sources = rooms(4);
        let others = vec!["b".to_string()];
        let orphans = HashSet::new();
        // b just joined: a holds all four, share two.
        let holders = held(&[("r0", "a"), ("r1", "a"), ("r2", "a"), ("r3", "a")]);
        let v = view("a", &others, &sources, &holders, &orphans);
        let viewers: HashMap<String, u64> = [("r0", 5), ("r1", 0), ("r2", 9), ("r3", 0)]
            .map(|(r, n)| (r.to_string(), n))
            .into();
        assert_eq!(
            to_give_back(&v, &viewers).as_deref(),
            Some("r1"),
            "fewest, then by id"
        );
    }

    #[test]
    fn a_node_that_left_is_owed_nothing() {
        let sources = rooms(3);
        let others = vec!["b".to_string()];
        let orphans = HashSet::new();
        let holders = held(&[("r0", "a"), ("r1", "a"), ("r2", "a")]);
        // While b is live and holds nothing, a (three of three, share two) gives one back.
        let v = view("a", &others, &sources, &holders, &orphans);
        assert!(to_give_back(&v, &HashMap::new()).is_some());
        // Once b has left, a is alone: its share is all three and it keeps them.
        let v = view("a", &[], &sources, &holders, &orphans);
        assert_eq!(to_give_back(&v, &HashMap::new()), None);
    }

    #[test]
    fn a_node_at_its_share_gives_nothing_back() {
        let sources = rooms(4);
        let others = vec!["b".to_string()];
        let orphans = HashSet::new();
        let holders = held(&[("r0", "a"), ("r1", "a"), ("r2", "b")]);
        let v = view("a", &others, &sources, &holders, &orphans);
        assert_eq!(to_give_back(&v, &HashMap::new()), None);
    }
}
