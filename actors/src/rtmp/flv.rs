//! The FLV stream a publisher's RTMP messages become on ffmpeg's stdin. RTMP audio and video
//! messages carry exactly FLV tag bodies; this wraps them in the file header and tag
//! headers (FLV 10.1, section E), and reads the codec out of a tag body so the pipeline
//! knows before ffmpeg starts whether it can copy.

use bytes::{BufMut, Bytes, BytesMut};

/// The file header (audio and video present) and the first, empty, previous-tag size.
pub const HEADER: [u8; 13] = [b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0];

/// What a tag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio = 8,
    Video = 9,
}

/// One tag: its header, its body, and the size of both that follows every tag.
pub fn tag(kind: TagKind, timestamp_ms: u32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(11 + body.len() + 4);
    put_tag(&mut out, kind, timestamp_ms, body);
    out.freeze()
}

/// Appends one tag to `out`.
pub fn put_tag(out: &mut BytesMut, kind: TagKind, timestamp_ms: u32, body: &[u8]) {
    let size = body.len() as u32;
    out.reserve(11 + body.len() + 4);
    out.put_u8(kind as u8);
    out.put_uint(u64::from(size), 3);
    // The low 24 bits, then the high 8 (the "extended" byte).
    out.put_uint(u64::from(timestamp_ms & 0x00ff_ffff), 3);
    out.put_u8((timestamp_ms >> 24) as u8);
    out.put_uint(0, 3);
    out.put_slice(body);
    out.put_u32(11 + size);
}

/// A video tag body's codec: `"h264"` for AVC, the FourCC of an Enhanced RTMP tag (`hvc1`,
/// `av01`, `vp09`), or the legacy codec's name.
pub fn video_codec(body: &[u8]) -> Option<&'static str> {
    let first = *body.first()?;
    if first & 0x80 != 0 {
        // Enhanced RTMP: the FourCC follows the first byte.
        return match body.get(1..5)? {
            b"hvc1" => Some("hevc"),
            b"av01" => Some("av1"),
            b"vp09" => Some("vp9"),
            _ => Some("unknown"),
        };
    }
    Some(match first & 0x0f {
        2 => "flv1",
        3 => "screenvideo",
        4 => "vp6",
        5 => "vp6a",
        6 => "screenvideo2",
        7 => "h264",
        _ => "unknown",
    })
}

/// An audio tag body's codec.
pub fn audio_codec(body: &[u8]) -> Option<&'static str> {
    Some(match *body.first()? >> 4 {
        0 | 3 => "pcm",
        1 => "adpcm",
        2 => "mp3",
        4..=6 => "nellymoser",
        7 => "pcm_alaw",
        8 => "pcm_mulaw",
        10 => "aac",
        11 => "speex",
        _ => "unknown",
    })
}

/// A video tag that starts a picture on its own (a keyframe), legacy or enhanced.
pub fn is_keyframe(body: &[u8]) -> bool {
    body.first().is_some_and(|b| (b >> 4) & 0x07 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_has_its_header_body_and_trailing_size() {
        let t = tag(TagKind::Video, 0x0102_0304, &[0x17, 0, 1, 2]);
        assert_eq!(t[0], 9);
        assert_eq!(&t[1..4], &[0, 0, 4], "body size");
        assert_eq!(&t[4..7], &[0x02, 0x03, 0x04], "timestamp, low 24 bits");
        assert_eq!(t[7], 0x01, "timestamp, high 8 bits");
        assert_eq!(&t[8..11], &[0, 0, 0], "stream id");
        assert_eq!(&t[11..15], &[0x17, 0, 1, 2]);
        assert_eq!(&t[15..], &15u32.to_be_bytes(), "previous tag size");
    }

    #[test]
    fn codecs_are_read_from_the_first_bytes() {
        assert_eq!(video_codec(&[0x17, 0]), Some("h264"));
        assert_eq!(video_codec(&[0x12, 0]), Some("flv1"));
        assert_eq!(video_codec(&[0x90, b'h', b'v', b'c', b'1']), Some("hevc"));
        assert_eq!(video_codec(&[]), None);
        assert_eq!(audio_codec(&[0xaf, 0]), Some("aac"));
        assert_eq!(audio_codec(&[0x2f]), Some("mp3"));
    }

    #[test]
    fn keyframes_are_told_apart() {
        assert!(is_keyframe(&[0x17, 1]));
        assert!(!is_keyframe(&[0x27, 1]));
        assert!(is_keyframe(&[0x90, b'h', b'v', b'c', b'1']));
    }

    #[test]
    fn the_header_announces_audio_and_video_and_its_own_size() {
        assert_eq!(&HEADER[..4], b"FLV\x01");
        assert_eq!(HEADER[4], 0x05, "audio and video flags");
        assert_eq!(
            u32::from_be_bytes([HEADER[5], HEADER[6], HEADER[7], HEADER[8]]),
            9
        );
        assert_eq!(&HEADER[9..], &[0, 0, 0, 0], "no tag before the first");
    }
}
