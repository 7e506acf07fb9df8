//! Live video between nodes: the binary packets the node that pulls a source publishes on
//! `{prefix}.video.{room}`, and the snapshot it answers joiners on other nodes with.
//!
//! ```text
//! "RCV1" | kind u8 | stream u64 | seq u64 | body
//! ```
//! `stream` names one ffmpeg run on one node (a new one comes with a new init segment);
//! `seq` counts that stream's fragments from 1. A snapshot's body is the init segment and
//! the fragments since the last keyframe, each as `len u32 | bytes`; its `seq` is the last
//! fragment's. All integers are big-endian.

use bytes::{Buf, BufMut, Bytes, BytesMut};

const MAGIC: &[u8; 4] = b"RCV1";
const HEADER: usize = 4 + 1 + 8 + 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketBody {
    Init(Bytes),
    Fragment { bytes: Bytes, keyframe: bool },
    Snapshot { init: Bytes, gop: Vec<Bytes> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub stream: u64,
    pub seq: u64,
    pub body: PacketBody,
}

impl Packet {
    pub fn encode(&self) -> Bytes {
        let (kind, len) = match &self.body {
            PacketBody::Init(b) => (0u8, b.len()),
            PacketBody::Fragment { bytes, keyframe } => {
                (if *keyframe { 2 } else { 1 }, bytes.len())
            }
            PacketBody::Snapshot { init, gop } => (
                3,
                4 + init.len() + gop.iter().map(|f| 4 + f.len()).sum::<usize>(),
            ),
        };
        let mut out = BytesMut::with_capacity(HEADER + len);
        out.put_slice(MAGIC);
        out.put_u8(kind);
        out.put_u64(self.stream);
        out.put_u64(self.seq);
        match &self.body {
            PacketBody::Init(b) | PacketBody::Fragment { bytes: b, .. } => out.put_slice(b),
            PacketBody::Snapshot { init, gop } => {
                for part in std::iter::once(init).chain(gop) {
                    out.put_u32(part.len() as u32);
                    out.put_slice(part);
                }
            }
        }
        out.freeze()
    }

    /// `None` for anything that is not a well-formed packet.
    pub fn decode(mut raw: Bytes) -> Option<Self> {
        if raw.len() < HEADER || &raw[..4] != MAGIC {
            return None;
        }
        raw.advance(4);
        let kind = raw.get_u8();
        let stream = raw.get_u64();
        let seq = raw.get_u64();
        let body = match kind {
            0 => PacketBody::Init(raw),
            1 | 2 => PacketBody::Fragment {
                bytes: raw,
                keyframe: kind == 2,
            },
            3 => {
                let mut parts = Vec::new();
                while raw.has_remaining() {
                    if raw.remaining() < 4 {
                        return None;
                    }
                    let len = raw.get_u32() as usize;
                    if raw.remaining() < len {
                        return None;
                    }
                    parts.push(raw.split_to(len));
                }
                if parts.is_empty() {
                    return None;
                }
                let init = parts.remove(0);
                PacketBody::Snapshot { init, gop: parts }
            }
            _ => return None,
        };
        Some(Self { stream, seq, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let packets = [
            Packet {
                stream: 7,
                seq: 0,
                body: PacketBody::Init(Bytes::from_static(b"ftypmoov")),
            },
            Packet {
                stream: u64::MAX,
                seq: 42,
                body: PacketBody::Fragment {
                    bytes: Bytes::from_static(b"moofmdat"),
                    keyframe: true,
                },
            },
            Packet {
                stream: 1,
                seq: 3,
                body: PacketBody::Fragment {
                    bytes: Bytes::new(),
                    keyframe: false,
                },
            },
            Packet {
                stream: 9,
                seq: 12,
                body: PacketBody::Snapshot {
                    init: Bytes::from_static(b"init"),
                    gop: vec![Bytes::from_static(b"key"), Bytes::from_static(b"next")],
                },
            },
        ];
        for p in packets {
            assert_eq!(Packet::decode(p.encode()), Some(p));
        }
    }

    #[test]
    fn malformed_packets_are_refused() {
        assert_eq!(Packet::decode(Bytes::from_static(b"RCV1")), None);
        let mut wrong_magic = Packet {
            stream: 1,
            seq: 1,
            body: PacketBody::Init(Bytes::from_static(b"x")),
        }
        .encode()
        .to_vec();
        wrong_magic[0] = b'X';
        assert_eq!(Packet::decode(wrong_magic.into()), None);
        let mut bad_kind = vec![];
        bad_kind.extend_from_slice(b"RCV1");
        bad_kind.push(9);
        bad_kind.extend_from_slice(&[0; 16]);
        assert_eq!(Packet::decode(bad_kind.into()), None);
        // A snapshot whose part claims more bytes than there are.
        let mut truncated = Packet {
            stream: 1,
            seq: 1,
            body: PacketBody::Snapshot {
                init: Bytes::from_static(b"init"),
                gop: vec![],
            },
        }
        .encode()
        .to_vec();
        truncated[HEADER + 3] = 200;
        assert_eq!(Packet::decode(truncated.into()), None);
    }
}
