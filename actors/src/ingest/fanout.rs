//! `Fanout`: a source's video viewers on this node and what a joiner needs (the
//! [`GopCache`]). Every init segment and fragment goes to each viewer as the same
//! reference-counted bytes; a joiner gets the cache first so its picture appears at once.

use std::collections::HashMap;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use super::follow::Media;
use super::gop::GopCache;

/// One binary frame for video viewers: the init segment or a fragment.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct VideoFrame {
    pub bytes: Bytes,
    /// An init segment (`ftyp` + `moov`); a new one means the stream restarted.
    pub init: bool,
    /// A fragment that starts with a keyframe.
    pub keyframe: bool,
    /// When a live fragment was read off ffmpeg's stdout (`None` for init segments and the
    /// cached fragments a joiner gets), for the delivery-latency histogram.
    pub read_at: Option<Instant>,
}

impl VideoFrame {
    fn init(bytes: Bytes) -> Self {
        Self {
            bytes,
            init: true,
            keyframe: false,
            read_at: None,
        }
    }
}

#[derive(Default)]
pub struct Fanout {
    cache: GopCache,
    viewers: HashMap<u64, Recipient<VideoFrame>>,
}

impl Fanout {
    /// Viewers here (those whose socket closed are forgotten first).
    pub fn viewers(&mut self) -> usize {
        self.viewers.retain(|_, to| to.connected());
        self.viewers.len()
    }

    /// The cached init segment and fragments, for a snapshot.
    pub fn cache(&self) -> &GopCache {
        &self.cache
    }

    /// A new viewer: the cached stream at once, then everything live.
    pub fn join(&mut self, viewer: u64, to: Recipient<VideoFrame>) {
        if let Some(init) = self.cache.init() {
            to.do_send(VideoFrame::init(init.clone()));
            for (i, fragment) in self.cache.fragments().iter().enumerate() {
                to.do_send(VideoFrame {
                    bytes: fragment.clone(),
                    init: false,
                    keyframe: i == 0,
                    read_at: None,
                });
            }
        }
        self.viewers.insert(viewer, to);
    }

    pub fn leave(&mut self, viewer: u64) {
        self.viewers.remove(&viewer);
    }

    /// The stream went away for this node.
    pub fn forget_stream(&mut self) {
        self.cache.clear();
    }

    /// A new init segment (a new stream): cached and sent to every viewer.
    pub fn init(&mut self, init: Bytes) {
        self.cache.start_stream(init.clone());
        self.send(VideoFrame::init(init));
    }

    /// A new fragment: kept in the cache and sent to every viewer.
    pub fn fragment(&mut self, bytes: Bytes, keyframe: bool, read_at: Option<Instant>) {
        self.cache.push(bytes.clone(), keyframe);
        self.send(VideoFrame {
            bytes,
            init: false,
            keyframe,
            read_at,
        });
    }

    /// What a follower relays.
    pub fn media(&mut self, media: Vec<Media>) {
        for m in media {
            match m {
                Media::Init(init) => self.init(init),
                Media::Fragment {
                    bytes,
                    keyframe,
                    read_at,
                } => self.fragment(bytes, keyframe, read_at),
            }
        }
    }

    fn send(&mut self, frame: VideoFrame) {
        self.viewers.retain(|_, to| to.connected());
        for to in self.viewers.values() {
            to.do_send(frame.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<VideoFrame>>>);

    struct Viewer(Seen);

    impl Actor for Viewer {
        type Context = Context<Self>;
    }

    impl Handler<VideoFrame> for Viewer {
        type Result = ();
        fn handle(&mut self, msg: VideoFrame, _: &mut Context<Self>) {
            self.0 .0.lock().unwrap().push(msg);
        }
    }

    fn viewer() -> (Seen, Addr<Viewer>) {
        let seen = Seen::default();
        (seen.clone(), Viewer(seen).start())
    }

    /// Lets the viewers' mailboxes drain.
    async fn settle(addr: &Addr<Viewer>) {
        #[derive(Message)]
        #[rtype(result = "()")]
        struct Ping;
        impl Handler<Ping> for Viewer {
            type Result = ();
            fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
        }
        addr.send(Ping).await.unwrap();
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[actix_rt::test]
    async fn a_joiner_gets_the_cache_then_live_frames_and_all_share_the_bytes() {
        let mut fanout = Fanout::default();
        let (early, early_addr) = viewer();
        fanout.join(1, early_addr.clone().recipient());
        fanout.init(b("init"));
        fanout.fragment(b("k1"), true, None);
        fanout.fragment(b("d1"), false, Some(Instant::now()));
        let (late, late_addr) = viewer();
        fanout.join(2, late_addr.clone().recipient());
        fanout.fragment(b("d2"), false, None);
        settle(&early_addr).await;
        settle(&late_addr).await;
        let early = early.0.lock().unwrap();
        let late = late.0.lock().unwrap();
        let names =
            |v: &[VideoFrame]| -> Vec<Bytes> { v.iter().map(|f| f.bytes.clone()).collect() };
        assert_eq!(names(&early), [b("init"), b("k1"), b("d1"), b("d2")]);
        assert_eq!(names(&late), [b("init"), b("k1"), b("d1"), b("d2")]);
        assert!(late[0].init && late[1].keyframe && !late[2].keyframe);
        assert_eq!(
            early[3].bytes.as_ptr(),
            late[3].bytes.as_ptr(),
            "one buffer for every viewer"
        );
    }

    #[actix_rt::test]
    async fn a_viewer_that_left_gets_nothing_more() {
        let mut fanout = Fanout::default();
        let (seen, addr) = viewer();
        fanout.join(1, addr.clone().recipient());
        fanout.init(b("init"));
        fanout.leave(1);
        fanout.fragment(b("k1"), true, None);
        settle(&addr).await;
        assert_eq!(seen.0.lock().unwrap().len(), 1);
        assert_eq!(fanout.viewers(), 0);
    }
}
