//! `Window`: the room's merge window, its batch sequence, its history ring and the recent
//! batches a reconnecting viewer resumes from. Messages collect in the open window; closing
//! it serialises them into ONE `batch` frame (the room sends those bytes to every viewer)
//! and moves them into the history joiners get. A plain struct: the room arms the timer,
//! this keeps the rules.

use std::collections::VecDeque;
use std::time::Instant;

use serde::Serialize;

use crate::protocol::Item;
use crate::store::StoredItem;

/// A window closes early at this many messages.
pub const MAX_BATCH_ITEMS: usize = 200;

/// A message in the open window: accepted here (saved when the window closes) or merged
/// from another node (saved there).
#[derive(Debug)]
pub enum Pending {
    Local(StoredItem),
    Remote(Item),
}

impl Pending {
    pub fn item(&self) -> &Item {
        match self {
            Pending::Local(s) => &s.item,
            Pending::Remote(i) => i,
        }
    }
}

/// What adding a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// It opened the window: close it when the window time is up, if `generation` is
    /// still the current one.
    Opened {
        generation: u64,
    },
    Added,
    /// The window is full: close it now.
    Full,
}

/// A closed window.
#[derive(Debug)]
pub struct Batch {
    /// The `batch` frame, serialised once.
    pub frame: String,
    pub len: usize,
    /// When the window opened (for the delivery-latency histogram).
    pub opened: Option<Instant>,
    /// The messages accepted on this node, to be saved.
    pub to_save: Vec<StoredItem>,
}

#[derive(Debug)]
pub struct Window {
    open: Vec<Pending>,
    opened: Option<Instant>,
    generation: u64,
    seq: u64,
    history: VecDeque<Item>,
    history_len: usize,
    /// The items of the last `resume_len` batches, by `seq`, oldest first.
    recent: VecDeque<(u64, Vec<Item>)>,
    resume_len: usize,
}

impl Window {
    /// A window whose history keeps the last `history_len` messages, and the last
    /// `resume_len` batches for viewers that resume.
    pub fn new(history_len: usize, resume_len: usize) -> Self {
        Self {
            open: Vec::new(),
            opened: None,
            generation: 0,
            seq: 0,
            history: VecDeque::new(),
            history_len,
            recent: VecDeque::new(),
            resume_len,
        }
    }

    /// The `seq` of the last batch sent (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Every item sent after batch `since`, oldest first, if the window still holds all of
    /// those batches; `None` when some are gone (or `since` was never sent).
    pub fn since(&self, since: u64) -> Option<Vec<Item>> {
        if since > self.seq {
            return None;
        }
        if since < self.seq {
            let oldest = self.recent.front()?.0;
            if oldest > since + 1 {
                return None;
            }
        }
        Some(
            self.recent
                .iter()
                .filter(|(seq, _)| *seq > since)
                .flat_map(|(_, items)| items.iter().cloned())
                .collect(),
        )
    }

    /// The window opened at `generation` is still open.
    pub fn is_open_at(&self, generation: u64) -> bool {
        self.generation == generation && !self.open.is_empty()
    }

    pub fn push(&mut self, pending: Pending, now: Instant) -> Pushed {
        let opened = self.open.is_empty();
        if opened {
            self.opened = Some(now);
        }
        self.open.push(pending);
        if self.open.len() >= MAX_BATCH_ITEMS {
            Pushed::Full
        } else if opened {
            Pushed::Opened {
                generation: self.generation,
            }
        } else {
            Pushed::Added
        }
    }

    /// Closes the window: one frame with the next `seq`, or `None` when it was empty.
    pub fn close(&mut self) -> Option<Batch> {
        if self.open.is_empty() {
            return None;
        }
        self.generation += 1;
        let pending = std::mem::take(&mut self.open);
        self.seq += 1;
        let frame = serde_json::to_string(&BatchFrame {
            kind: "batch",
            seq: self.seq,
            items: pending.iter().map(Pending::item),
        })
        .expect("batches always serialise");
        let len = pending.len();
        let mut to_save = Vec::with_capacity(len);
        let mut sent = Vec::with_capacity(if self.resume_len > 0 { len } else { 0 });
        for p in pending {
            self.remember(p.item().clone());
            if self.resume_len > 0 {
                sent.push(p.item().clone());
            }
            if let Pending::Local(s) = p {
                to_save.push(s);
            }
        }
        if self.resume_len > 0 {
            if self.recent.len() >= self.resume_len {
                self.recent.pop_front();
            }
            self.recent.push_back((self.seq, sent));
        }
        Some(Batch {
            frame,
            len,
            opened: self.opened.take(),
            to_save,
        })
    }

    /// Removes messages from the open window, history and the recent batches.
    pub fn retract(&mut self, ids: &[String]) {
        self.history.retain(|i| !ids.contains(&i.id));
        self.open.retain(|p| !ids.contains(&p.item().id));
        for (_, items) in &mut self.recent {
            items.retain(|i| !ids.contains(&i.id));
        }
    }

    /// What a joiner is shown, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &Item> {
        self.history.iter()
    }

    /// The stored history, loaded when the room (re)starts: messages that arrived while it
    /// loaded stay, after the stored ones.
    pub fn load_history(&mut self, stored: Vec<Item>) {
        let arrived = std::mem::replace(&mut self.history, stored.into());
        while self.history.len() > self.history_len {
            self.history.pop_front();
        }
        for item in arrived {
            if !self.history.iter().any(|i| i.id == item.id) {
                self.remember(item);
            }
        }
    }

    fn remember(&mut self, item: Item) {
        if self.history_len == 0 {
            return;
        }
        if self.history.len() >= self.history_len {
            self.history.pop_front();
        }
        self.history.push_back(item);
    }
}

/// The batch frame, serialised from borrowed items.
#[derive(Serialize)]
struct BatchFrame<'a, I: Iterator<Item = &'a Item> + Clone> {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    #[serde(serialize_with = "serialize_iter")]
    items: I,
}

fn serialize_iter<'a, I, S>(items: &I, s: S) -> Result<S::Ok, S::Error>
where
    I: Iterator<Item = &'a Item> + Clone,
    S: serde::Serializer,
{
    s.collect_seq(items.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Mode;

    fn item(id: &str) -> Item {
        Item {
            id: id.into(),
            user: "ann".into(),
            text: format!("text {id}"),
            color: "#ffffff".into(),
            mode: Mode::Scroll,
            at: 1,
        }
    }

    fn local(id: &str) -> Pending {
        Pending::Local(StoredItem {
            item: item(id),
            author_id: "u1".into(),
            accepted_us: 1,
        })
    }

    fn ids<'a>(items: impl Iterator<Item = &'a Item>) -> Vec<String> {
        items.map(|i| i.id.clone()).collect()
    }

    #[test]
    fn a_window_closes_into_one_frame_with_the_next_seq() {
        let mut w = Window::new(50, 0);
        let now = Instant::now();
        assert_eq!(w.push(local("a"), now), Pushed::Opened { generation: 0 });
        assert_eq!(w.push(Pending::Remote(item("b")), now), Pushed::Added);
        let batch = w.close().unwrap();
        assert_eq!(batch.len, 2);
        assert_eq!(batch.opened, Some(now));
        let frame: serde_json::Value = serde_json::from_str(&batch.frame).unwrap();
        assert_eq!(frame["type"], "batch");
        assert_eq!(frame["seq"], 1);
        assert_eq!(frame["items"][0]["id"], "a");
        assert_eq!(frame["items"][1]["text"], "text b");
        w.push(local("c"), now);
        let frame: serde_json::Value = serde_json::from_str(&w.close().unwrap().frame).unwrap();
        assert_eq!(frame["seq"], 2, "seq rises by one per frame");
    }

    #[test]
    fn an_empty_window_sends_nothing() {
        let mut w = Window::new(50, 0);
        assert!(w.close().is_none());
    }

    #[test]
    fn only_messages_accepted_here_are_saved_here() {
        let mut w = Window::new(50, 0);
        w.push(local("a"), Instant::now());
        w.push(Pending::Remote(item("b")), Instant::now());
        let batch = w.close().unwrap();
        assert_eq!(batch.to_save.len(), 1);
        assert_eq!(batch.to_save[0].item.id, "a");
    }

    #[test]
    fn a_full_window_asks_to_be_closed() {
        let mut w = Window::new(50, 0);
        for i in 0..MAX_BATCH_ITEMS - 1 {
            assert_ne!(w.push(local(&i.to_string()), Instant::now()), Pushed::Full);
        }
        assert_eq!(w.push(local("last"), Instant::now()), Pushed::Full);
    }

    #[test]
    fn a_timer_from_an_older_window_finds_it_closed() {
        let mut w = Window::new(50, 0);
        let Pushed::Opened { generation } = w.push(local("a"), Instant::now()) else {
            panic!()
        };
        assert!(w.is_open_at(generation));
        w.close();
        w.push(local("b"), Instant::now());
        assert!(!w.is_open_at(generation));
    }

    #[test]
    fn history_keeps_the_latest_messages_in_order() {
        let mut w = Window::new(2, 0);
        for id in ["a", "b", "c"] {
            w.push(local(id), Instant::now());
            w.close();
        }
        assert_eq!(ids(w.history()), ["b", "c"]);
    }

    #[test]
    fn a_retracted_message_leaves_the_window_and_history() {
        let mut w = Window::new(50, 0);
        w.push(local("a"), Instant::now());
        w.close();
        w.push(local("b"), Instant::now());
        w.push(local("c"), Instant::now());
        w.retract(&["a".to_string(), "b".to_string()]);
        let batch = w.close().unwrap();
        assert_eq!(batch.len, 1);
        assert!(!batch.frame.contains("\"b\""));
        assert_eq!(ids(w.history()), ["c"]);
    }

    #[test]
    fn loaded_history_comes_before_what_arrived_while_loading() {
        let mut w = Window::new(3, 0);
        w.push(Pending::Remote(item("new")), Instant::now());
        w.close();
        w.load_history(vec![item("old1"), item("old2"), item("new")]);
        assert_eq!(ids(w.history()), ["old1", "old2", "new"], "no duplicate");
        let mut w = Window::new(3, 0);
        w.load_history(vec![item("x"), item("y"), item("z"), item("w")]);
        assert_eq!(
            ids(w.history()),
            ["y", "z", "w"],
            "no more than the ring holds"
        );
    }

    #[test]
    fn a_room_without_history_remembers_nothing() {
        let mut w = Window::new(0, 0);
        w.push(local("a"), Instant::now());
        w.close();
        assert_eq!(w.history().count(), 0);
    }

    /// Closes one window holding `ids`.
    fn batch(w: &mut Window, ids: &[&str]) {
        for id in ids {
            w.push(local(id), Instant::now());
        }
        w.close();
    }

    #[test]
    fn a_viewer_resumes_with_exactly_the_items_after_its_last_batch() {
        let mut w = Window::new(50, 10);
        batch(&mut w, &["a", "b"]);
        batch(&mut w, &["c"]);
        batch(&mut w, &["d", "e"]);
        assert_eq!(w.seq(), 3);
        assert_eq!(ids(w.since(1).unwrap().iter()), ["c", "d", "e"]);
        assert_eq!(ids(w.since(0).unwrap().iter()), ["a", "b", "c", "d", "e"]);
        assert!(w.since(3).unwrap().is_empty(), "nothing missed");
        assert!(w.since(4).is_none(), "a batch never sent");
    }

    #[test]
    fn a_resume_from_before_what_the_ring_holds_falls_back() {
        let mut w = Window::new(50, 2);
        for id in ["a", "b", "c", "d"] {
            batch(&mut w, &[id]);
        }
        assert_eq!(ids(w.since(2).unwrap().iter()), ["c", "d"]);
        assert!(w.since(1).is_none(), "batch 2 is gone");
        let mut none = Window::new(50, 0);
        batch(&mut none, &["a"]);
        assert!(none.since(0).is_none(), "a room that keeps no batches");
        assert!(none.since(1).unwrap().is_empty(), "but nothing was missed");
    }

    #[test]
    fn a_retracted_message_is_not_resumed() {
        let mut w = Window::new(50, 10);
        batch(&mut w, &["a", "b"]);
        w.retract(&["a".to_string()]);
        assert_eq!(ids(w.since(0).unwrap().iter()), ["b"]);
    }
}
