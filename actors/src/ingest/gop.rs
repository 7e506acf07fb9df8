//! `GopCache`: what a viewer who joins now needs to see a picture at once: the stream's init
//! segment and the fragments since its latest keyframe. A plain struct beside the pipeline
//! (which feeds it and fans out), so the rule is tested on its own.

use bytes::Bytes;

/// Fragments kept at most (a source that never sends a keyframe must not grow it forever).
pub const MAX_GOP_FRAGMENTS: usize = 600;

#[derive(Debug, Default)]
pub struct GopCache {
    init: Option<Bytes>,
    /// From the latest keyframe on; empty until the first keyframe of the stream.
    gop: Vec<Bytes>,
}

impl GopCache {
    /// A new stream: its init segment, and no fragments yet.
    pub fn start_stream(&mut self, init: Bytes) {
        self.gop.clear();
        self.init = Some(init);
    }

    /// A fragment of the current stream: a keyframe starts the cache again; others join it
    /// once a keyframe is in (a fragment that cannot be decoded alone is useless first).
    pub fn push(&mut self, fragment: Bytes, keyframe: bool) {
        if keyframe || self.gop.len() >= MAX_GOP_FRAGMENTS {
            self.gop.clear();
        }
        if keyframe || !self.gop.is_empty() {
            self.gop.push(fragment);
        }
    }

    /// Forgets the stream (the source went away for this node).
    pub fn clear(&mut self) {
        self.init = None;
        self.gop.clear();
    }

    pub fn init(&self) -> Option<&Bytes> {
        self.init.as_ref()
    }

    /// The fragments since the latest keyframe, the keyframe first.
    pub fn fragments(&self) -> &[Bytes] {
        &self.gop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn a_joiner_gets_the_init_and_the_fragments_since_the_latest_keyframe() {
        let mut cache = GopCache::default();
        cache.start_stream(b("init"));
        for (f, key) in [("k1", true), ("d1", false), ("k2", true), ("d2", false)] {
            cache.push(b(f), key);
        }
        assert_eq!(cache.init(), Some(&b("init")));
        assert_eq!(cache.fragments(), [b("k2"), b("d2")]);
    }

    #[test]
    fn fragments_before_the_first_keyframe_are_not_kept() {
        let mut cache = GopCache::default();
        cache.start_stream(b("init"));
        cache.push(b("d0"), false);
        assert!(cache.fragments().is_empty());
        cache.push(b("k1"), true);
        cache.push(b("d1"), false);
        assert_eq!(cache.fragments(), [b("k1"), b("d1")]);
    }

    #[test]
    fn a_new_stream_or_a_clear_forgets_the_old_one() {
        let mut cache = GopCache::default();
        cache.start_stream(b("init1"));
        cache.push(b("k1"), true);
        cache.start_stream(b("init2"));
        assert_eq!(cache.init(), Some(&b("init2")));
        assert!(cache.fragments().is_empty());
        cache.clear();
        assert_eq!(cache.init(), None);
    }

    #[test]
    fn a_source_without_keyframes_cannot_grow_the_cache_past_its_cap() {
        let mut cache = GopCache::default();
        cache.start_stream(b("init"));
        cache.push(b("k"), true);
        for _ in 0..MAX_GOP_FRAGMENTS * 3 {
            cache.push(b("d"), false);
        }
        assert!(cache.fragments().len() <= MAX_GOP_FRAGMENTS);
    }
}
