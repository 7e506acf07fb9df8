//! Splitting ffmpeg's fragmented MP4 output into what a Media Source Extensions player
//! needs: the init segment (`ftyp` + `moov`) once, then one `moof` + `mdat` fragment at a
//! time, each marked with whether it starts with a video keyframe (a joining viewer must
//! start on one).
//!
//! The input arrives in arbitrary pieces from ffmpeg's stdout; `FragmentSplitter::push`
//! buffers until a top-level box is complete. Boxes are bounded in size so that a broken
//! stream cannot grow the buffer without limit.

use bytes::{Buf, Bytes, BytesMut};

/// Largest top-level box accepted (a fragment of high-bitrate video is far smaller).
const MAX_BOX: usize = 32 << 20;
/// `sample_is_non_sync_sample` in the sample flags.
const NON_SYNC: u32 = 0x0001_0000;

/// What the splitter produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// `ftyp` + `moov`: sent first to every viewer.
    Init(Bytes),
    /// `moof` + `mdat`.
    Fragment { bytes: Bytes, keyframe: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("a {kind} box of {size} bytes is larger than the {MAX_BOX} allowed")]
    TooLarge { kind: String, size: u64 },
    #[error("a box has an impossible size ({0})")]
    BadSize(u64),
    #[error("mdat without a moof before it")]
    OrphanMdat,
}

#[derive(Default)]
pub struct FragmentSplitter {
    buf: BytesMut,
    ftyp: Option<Bytes>,
    moof: Option<(Bytes, bool)>,
    /// The video track's id, once `moov` has been read.
    video_track: Option<u32>,
}

impl FragmentSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every piece they completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Piece>, SplitError> {
        self.buf.extend_from_slice(data);
        let mut pieces = Vec::new();
        while let Some((kind, size)) = self.next_box()? {
            let bytes = self.buf.split_to(size).freeze();
            match &kind {
                b"ftyp" => self.ftyp = Some(bytes),
                b"moov" => {
                    self.video_track = video_track_id(&bytes[8..]);
                    let mut init = BytesMut::new();
                    if let Some(ftyp) = self.ftyp.take() {
                        init.extend_from_slice(&ftyp);
                    }
                    init.extend_from_slice(&bytes);
                    pieces.push(Piece::Init(init.freeze()));
                }
                b"moof" => {
                    let keyframe = starts_with_keyframe(&bytes[8..], self.video_track);
                    self.moof = Some((bytes, keyframe));
                }
                b"mdat" => {
                    let (moof, keyframe) = self.moof.take().ok_or(SplitError::OrphanMdat)?;
                    let mut fragment = BytesMut::with_capacity(moof.len() + bytes.len());
                    fragment.extend_from_slice(&moof);
                    fragment.extend_from_slice(&bytes);
                    pieces.push(Piece::Fragment {
                        bytes: fragment.freeze(),
                        keyframe,
                    });
                }
                // styp, sidx, free, mfra...: nothing a player needs.
                _ => {}
            }
        }
        Ok(pieces)
    }

    /// The kind and total size of the box at the front, once it is complete.
    fn next_box(&self) -> Result<Option<([u8; 4], usize)>, SplitError> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let mut head = &self.buf[..];
        let size32 = head.get_u32();
        let mut kind = [0u8; 4];
        head.copy_to_slice(&mut kind);
        let size = match size32 {
            1 if self.buf.len() < 16 => return Ok(None),
            1 => head.get_u64(),
            // "to the end of the file" cannot be framed in a live stream.
            0 => return Err(SplitError::BadSize(0)),
            n => u64::from(n),
        };
        if size < 8 {
            return Err(SplitError::BadSize(size));
        }
        if size > MAX_BOX as u64 {
            return Err(SplitError::TooLarge {
                kind: String::from_utf8_lossy(&kind).into_owned(),
                size,
            });
        }
        let size = size as usize;
        Ok((self.buf.len() >= size).then_some((kind, size)))
    }
}

/// Child boxes of a container's payload: `(kind, payload)`.
fn children(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(data[..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = data[4..8].try_into().ok()?;
        let (size, header) = match size {
            1 if data.len() >= 16 => (
                u64::from_be_bytes(data[8..16].try_into().ok()?) as usize,
                16,
            ),
            0 => (data.len(), 8),
            n => (n, 8),
        };
        if size < header || size > data.len() {
            return None;
        }
        let payload = &data[header..size];
        data = &data[size..];
        Some((kind, payload))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(data).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
}

/// The id of the first video track in a `moov` payload.
fn video_track_id(moov: &[u8]) -> Option<u32> {
    children(moov)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, trak)| {
            let handler = child(child(trak, b"mdia")?, b"hdlr")?;
            if handler.get(8..12)? != b"vide" {
                return None;
            }
            let tkhd = child(trak, b"tkhd")?;
            let at = if tkhd.first() == Some(&1) {
                4 + 16
            } else {
                4 + 8
            };
            be_u32(tkhd, at)
        })
}

/// Whether the video track's first sample in this `moof` payload is a sync sample. A
/// fragment without video (or before we know the video track) counts as a keyframe.
fn starts_with_keyframe(moof: &[u8], video_track: Option<u32>) -> bool {
    let Some(video) = video_track else {
        return true;
    };
    for (kind, traf) in children(moof) {
        if &kind != b"traf" {
            continue;
        }
        let Some(tfhd) = child(traf, b"tfhd") else {
            continue;
        };
        if be_u32(tfhd, 4) != Some(video) {
            continue;
        }
        return first_sample_flags(tfhd, child(traf, b"trun"))
            .is_none_or(|flags| flags & NON_SYNC == 0);
    }
    true
}

/// The first sample's flags: from `trun` (first-sample flags or per-sample flags), else the
/// track fragment's default.
fn first_sample_flags(tfhd: &[u8], trun: Option<&[u8]>) -> Option<u32> {
    if let Some(trun) = trun {
        let flags = be_u32(trun, 0)? & 0x00FF_FFFF;
        let mut at = 8; // version+flags, sample_count
        if flags & 0x1 != 0 {
            at += 4; // data_offset
        }
        if flags & 0x4 != 0 {
            return be_u32(trun, at);
        }
        if flags & 0x400 != 0 {
            let skip = [0x100, 0x200].iter().filter(|f| flags & *f != 0).count() * 4;
            return be_u32(trun, at + skip);
        }
    }
    let flags = be_u32(tfhd, 0)? & 0x00FF_FFFF;
    let mut at = 8; // version+flags, track_ID
    for (bit, len) in [(0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)] {
        if flags & bit != 0 {
            at += len;
        }
    }
    (flags & 0x20 != 0).then(|| be_u32(tfhd, at)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    /// A `moof` whose single video `traf` (track 1) has the given first-sample flags.
    fn moof(flags: u32) -> Vec<u8> {
        let mut tfhd = vec![0, 0, 0, 0];
        tfhd.extend_from_slice(&1u32.to_be_bytes());
        let mut trun = vec![0, 0, 0, 0x05]; // data_offset + first_sample_flags
        trun.extend_from_slice(&1u32.to_be_bytes());
        trun.extend_from_slice(&0u32.to_be_bytes());
        trun.extend_from_slice(&flags.to_be_bytes());
        let traf = [boxed(b"tfhd", &tfhd), boxed(b"trun", &trun)].concat();
        boxed(b"moof", &boxed(b"traf", &traf))
    }

    fn moov() -> Vec<u8> {
        let mut tkhd = vec![0u8; 4 + 8];
        tkhd.extend_from_slice(&1u32.to_be_bytes());
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        let trak = [
            boxed(b"tkhd", &tkhd),
            boxed(b"mdia", &boxed(b"hdlr", &hdlr)),
        ]
        .concat();
        boxed(b"moov", &boxed(b"trak", &trak))
    }

    fn stream() -> Vec<u8> {
        [
            boxed(b"ftyp", b"isom"),
            moov(),
            moof(0x0200_0000),
            boxed(b"mdat", b"key"),
            moof(0x0101_0000),
            boxed(b"mdat", b"delta"),
        ]
        .concat()
    }

    #[test]
    fn init_then_fragments_with_their_keyframe_flag() {
        let pieces = FragmentSplitter::new().push(&stream()).unwrap();
        assert_eq!(pieces.len(), 3);
        let Piece::Init(init) = &pieces[0] else {
            panic!("init first")
        };
        assert_eq!(&init[4..8], b"ftyp");
        assert!(matches!(&pieces[1], Piece::Fragment { keyframe: true, .. }));
        assert!(matches!(
            &pieces[2],
            Piece::Fragment {
                keyframe: false,
                ..
            }
        ));
    }

    #[test]
    fn pieces_are_the_same_whatever_the_read_sizes() {
        let whole = FragmentSplitter::new().push(&stream()).unwrap();
        for step in [1, 3, 7, 64] {
            let mut splitter = FragmentSplitter::new();
            let mut pieces = Vec::new();
            for chunk in stream().chunks(step) {
                pieces.extend(splitter.push(chunk).unwrap());
            }
            assert_eq!(pieces, whole, "read {step} bytes at a time");
        }
    }

    #[test]
    fn broken_streams_are_errors_not_unbounded_buffers() {
        let mut huge = (u32::MAX).to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        assert!(matches!(
            FragmentSplitter::new().push(&huge),
            Err(SplitError::TooLarge { .. })
        ));
        let tiny = [0, 0, 0, 4, b'f', b'r', b'e', b'e'];
        assert_eq!(
            FragmentSplitter::new().push(&tiny),
            Err(SplitError::BadSize(4))
        );
        assert_eq!(
            FragmentSplitter::new().push(&boxed(b"mdat", b"x")),
            Err(SplitError::OrphanMdat)
        );
    }

    /// ffmpeg's own fragmented MP4 (3 s, a keyframe every second, fragments of 200 ms).
    fn ffmpeg_fragments() -> Vec<u8> {
        let out = std::process::Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=25",
            ])
            .args(["-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "3"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-c:a", "aac", "-f", "mp4", "-frag_duration", "200000"])
            .args([
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "pipe:1",
            ])
            .output()
            .expect("ffmpeg runs (apt-get install ffmpeg)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn real_ffmpeg_output_splits_with_a_keyframe_each_second() {
        let data = ffmpeg_fragments();
        let mut splitter = FragmentSplitter::new();
        let mut pieces = Vec::new();
        for chunk in data.chunks(4096) {
            pieces.extend(splitter.push(chunk).unwrap());
        }
        let Piece::Init(init) = &pieces[0] else {
            panic!("init first")
        };
        assert_eq!(&init[4..8], b"ftyp");
        assert!(splitter.video_track.is_some(), "the video track was found");
        let flags: Vec<bool> = pieces[1..]
            .iter()
            .map(|p| match p {
                Piece::Fragment { bytes, keyframe } => {
                    assert_eq!(&bytes[4..8], b"moof");
                    *keyframe
                }
                Piece::Init(_) => panic!("one init only"),
            })
            .collect();
        assert!(flags[0], "the first fragment starts with a keyframe");
        let keyframes = flags.iter().filter(|k| **k).count();
        assert_eq!(keyframes, 3, "one keyframe per second of video: {flags:?}");
        assert!(
            flags.len() >= 10,
            "fragments of about 200 ms: {}",
            flags.len()
        );
    }
}
