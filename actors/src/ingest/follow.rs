//! A follower's reading of the holder's stream: which packets from the bus become video for
//! this node's viewers. It joins a stream at a snapshot (init segment and fragments since
//! the last keyframe) or at a new init segment, drops repeats and fragments of streams it
//! has not joined, holds a few live packets while the snapshot is on its way, and passes on
//! fragments only from a keyframe on (a fragment before one cannot be decoded).

use std::time::Instant;

use bytes::Bytes;

use super::wire::{Packet, PacketBody};

/// A follower keeps at most this many packets while it waits for a snapshot.
const MAX_PENDING_PACKETS: usize = 64;

/// What a packet gives this node's viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    Init(Bytes),
    Fragment {
        bytes: Bytes,
        keyframe: bool,
        /// When a live fragment arrived (`None` for those out of a snapshot).
        read_at: Option<Instant>,
    },
}

#[derive(Debug)]
pub struct Follower {
    stream: Option<u64>,
    last_seq: u64,
    /// A keyframe of `stream` has been passed on: fragments can be decoded.
    synced: bool,
    awaiting_snapshot: bool,
    pending: Vec<Packet>,
}

impl Follower {
    /// A follower that has asked for a snapshot.
    pub fn awaiting_snapshot() -> Self {
        Self {
            stream: None,
            last_seq: 0,
            synced: false,
            awaiting_snapshot: true,
            pending: Vec::new(),
        }
    }

    /// No snapshot came in time: pass on what was held and go on live.
    pub fn give_up_snapshot(&mut self, now: Instant) -> Vec<Media> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.awaiting_snapshot) {
            for packet in std::mem::take(&mut self.pending) {
                self.relay(packet, now, &mut out);
            }
        }
        out
    }

    /// One packet from the holder.
    pub fn take(&mut self, packet: Packet, now: Instant) -> Vec<Media> {
        let mut out = Vec::new();
        self.relay(packet, now, &mut out);
        out
    }

    fn relay(&mut self, packet: Packet, now: Instant, out: &mut Vec<Media>) {
        match packet.body {
            PacketBody::Snapshot { init, gop } => {
                self.awaiting_snapshot = false;
                if self.stream == Some(packet.stream) && self.synced {
                    return;
                }
                self.stream = Some(packet.stream);
                self.last_seq = packet.seq;
                self.synced = !gop.is_empty();
                out.push(Media::Init(init));
                for (i, bytes) in gop.into_iter().enumerate() {
                    out.push(Media::Fragment {
                        bytes,
                        keyframe: i == 0,
                        read_at: None,
                    });
                }
                for held in std::mem::take(&mut self.pending) {
                    self.relay(held, now, out);
                }
            }
            PacketBody::Init(init) => {
                self.stream = Some(packet.stream);
                self.last_seq = packet.seq;
                self.synced = false;
                out.push(Media::Init(init));
            }
            PacketBody::Fragment { bytes, keyframe } => {
                if self.stream != Some(packet.stream) {
                    if self.awaiting_snapshot && self.pending.len() < MAX_PENDING_PACKETS {
                        self.pending.push(Packet {
                            body: PacketBody::Fragment { bytes, keyframe },
                            ..packet
                        });
                    }
                    return;
                }
                if packet.seq <= self.last_seq {
                    return;
                }
                self.last_seq = packet.seq;
                self.synced |= keyframe;
                if self.synced {
                    out.push(Media::Fragment {
                        bytes,
                        keyframe,
                        read_at: Some(now),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    fn fragment(stream: u64, seq: u64, keyframe: bool) -> Packet {
        Packet {
            stream,
            seq,
            body: PacketBody::Fragment {
                bytes: Bytes::from(format!("f{seq}")),
                keyframe,
            },
        }
    }

    fn snapshot(stream: u64, seq: u64, gop: Vec<Bytes>) -> Packet {
        Packet {
            stream,
            seq,
            body: PacketBody::Snapshot {
                init: b("init"),
                gop,
            },
        }
    }

    fn names(media: &[Media]) -> Vec<String> {
        media
            .iter()
            .map(|m| match m {
                Media::Init(b) | Media::Fragment { bytes: b, .. } => {
                    String::from_utf8_lossy(b).into_owned()
                }
            })
            .collect()
    }

    #[test]
    fn a_snapshot_gives_the_init_and_the_gop_then_live_fragments_follow() {
        let mut f = Follower::awaiting_snapshot();
        let now = Instant::now();
        let out = f.take(snapshot(7, 2, vec![b("f1"), b("f2")]), now);
        assert_eq!(names(&out), ["init", "f1", "f2"]);
        assert!(matches!(out[1], Media::Fragment { keyframe: true, .. }));
        assert_eq!(names(&f.take(fragment(7, 3, false), now)), ["f3"]);
    }

    #[test]
    fn live_packets_that_beat_the_snapshot_are_held_and_repeats_dropped() {
        let mut f = Follower::awaiting_snapshot();
        let now = Instant::now();
        assert!(f.take(fragment(7, 2, false), now).is_empty());
        assert!(f.take(fragment(7, 3, false), now).is_empty());
        let out = f.take(snapshot(7, 2, vec![b("f1"), b("f2")]), now);
        assert_eq!(
            names(&out),
            ["init", "f1", "f2", "f3"],
            "f2 is not shown twice"
        );
    }

    #[test]
    fn without_a_snapshot_fragments_wait_for_a_keyframe() {
        let mut f = Follower::awaiting_snapshot();
        let now = Instant::now();
        f.take(fragment(7, 1, false), now);
        assert!(
            f.give_up_snapshot(now).is_empty(),
            "an unknown stream is not joined"
        );
        let mut out = f.take(
            Packet {
                stream: 8,
                seq: 0,
                body: PacketBody::Init(b("init")),
            },
            now,
        );
        out.extend(f.take(fragment(8, 1, false), now));
        out.extend(f.take(fragment(8, 2, true), now));
        out.extend(f.take(fragment(8, 3, false), now));
        assert_eq!(names(&out), ["init", "f2", "f3"]);
    }

    #[test]
    fn a_second_snapshot_of_a_joined_stream_changes_nothing() {
        let mut f = Follower::awaiting_snapshot();
        let now = Instant::now();
        f.take(snapshot(7, 2, vec![b("f1"), b("f2")]), now);
        assert!(f
            .take(snapshot(7, 2, vec![b("f1"), b("f2")]), now)
            .is_empty());
    }

    #[test]
    fn a_new_stream_starts_with_its_init_segment() {
        let mut f = Follower::awaiting_snapshot();
        let now = Instant::now();
        f.take(snapshot(7, 2, vec![b("f1")]), now);
        let out = f.take(
            Packet {
                stream: 9,
                seq: 0,
                body: PacketBody::Init(b("init2")),
            },
            now,
        );
        assert_eq!(names(&out), ["init2"]);
        assert!(
            f.take(fragment(7, 3, true), now).is_empty(),
            "the old stream is over"
        );
    }
}
