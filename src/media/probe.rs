//! Deciding whether an uploaded file is a video we can serve, from ffprobe's JSON.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::tools::{MediaTools, ToolError};

/// ffprobe reads headers only; a file it cannot judge in this long is refused.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// The container a browser can play, as we store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Mp4,
    WebM,
    Matroska,
}

impl Container {
    pub fn mime(self) -> &'static str {
        match self {
            Container::Mp4 => "video/mp4",
            Container::WebM => "video/webm",
            Container::Matroska => "video/x-matroska",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::WebM => "webm",
            Container::Matroska => "mkv",
        }
    }

    /// The container of a stored file, from its extension.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "mp4" => Some(Container::Mp4),
            "webm" => Some(Container::WebM),
            "mkv" => Some(Container::Matroska),
            _ => None,
        }
    }
}

/// What probing found in a playable video.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub container: Container,
    pub duration_ms: i64,
    pub width: i32,
    pub height: i32,
    pub video_codec: String,
    /// Empty when the video has no sound.
    pub audio_codec: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The upload is not a video we can play; the text says why.
    #[error("{0}")]
    NotPlayable(String),
    #[error(transparent)]
    Tool(#[from] ToolError),
}

#[derive(Deserialize)]
struct FfprobeJson {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: i32,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Frames larger than this (either side, or in pixels) are refused before anything decodes
/// them: a small file can declare a picture that takes gigabytes to decode.
pub const MAX_DIMENSION: i32 = 8192;
pub const MAX_PIXELS: i64 = 36_000_000;

/// The demuxer for a file, chosen from its own first bytes, never from its name or from
/// ffprobe's guess: a playlist or a concat script named `.mp4` would make ffprobe open
/// whatever paths it lists.
fn demuxer_of(head: &[u8]) -> Option<&'static str> {
    const MP4_BOXES: [&[u8]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"];
    if head.len() >= 8 && MP4_BOXES.contains(&&head[4..8]) {
        return Some("mov");
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Some("matroska");
    }
    None
}

/// Runs ffprobe on `path` (blocking) and judges the result. Errors never name the path.
pub fn probe(tools: &MediaTools, path: &Path) -> Result<Probe, ProbeError> {
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| ToolError::Spawn {
            tool: "ffprobe",
            source: std::io::Error::new(e.kind(), "reading the upload's first bytes"),
        })?;
    let demuxer = demuxer_of(&head[..read]).ok_or_else(|| {
        ProbeError::NotPlayable("the file is not an MP4, MOV, Matroska or WebM video".into())
    })?;
    let shown = path.to_string_lossy();
    let input = format!("file:{shown}");
    let args = [
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-f",
        demuxer,
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-i",
        &input,
    ];
    let output = match tools.ffprobe(&args, PROBE_LIMIT) {
        Ok(output) => output,
        Err(ToolError::Failed { stderr, .. }) => {
            let last = stderr.lines().last().unwrap_or("unknown format");
            let last = last
                .replace(&input, "the upload")
                .replace(shown.as_ref(), "the upload");
            return Err(ProbeError::NotPlayable(format!(
                "the file is not a video ffprobe can read ({last})"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    judge(&output.stdout)
}

/// Decides from ffprobe's JSON whether the file is a playable video.
pub fn judge(json: &[u8]) -> Result<Probe, ProbeError> {
    let not = |why: &str| ProbeError::NotPlayable(why.to_string());
    let parsed: FfprobeJson =
        serde_json::from_slice(json).map_err(|_| not("ffprobe gave no usable description"))?;
    let format = parsed.format.ok_or_else(|| not("no container found"))?;
    let format_name = format.format_name.unwrap_or_default();
    let video = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0)
        .ok_or_else(|| not("the file has no video stream"))?;
    let video_codec = video.codec_name.clone().unwrap_or_default();
    let audio_codec = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .and_then(|s| s.codec_name.clone())
        .unwrap_or_default();
    let container = container_of(&format_name, &video_codec).ok_or_else(|| {
        ProbeError::NotPlayable(format!(
            "the {format_name} format cannot be played in browsers: upload MP4 (H.264/AAC) or WebM"
        ))
    })?;
    let (width, height) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(not("the video stream has no picture size")),
    };
    if width > MAX_DIMENSION
        || height > MAX_DIMENSION
        || i64::from(width) * i64::from(height) > MAX_PIXELS
    {
        return Err(ProbeError::NotPlayable(format!(
            "the picture is {width}x{height}: at most {MAX_DIMENSION} pixels a side and \
             {} megapixels are accepted",
            MAX_PIXELS / 1_000_000
        )));
    }
    let duration_ms = format
        .duration
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (d * 1000.0).round() as i64)
        .ok_or_else(|| not("the video has no duration"))?;
    Ok(Probe {
        container,
        duration_ms,
        width,
        height,
        video_codec,
        audio_codec,
    })
}

fn container_of(format_name: &str, video_codec: &str) -> Option<Container> {
    let names: Vec<&str> = format_name.split(',').collect();
    if names.contains(&"mp4") || names.contains(&"mov") {
        Some(Container::Mp4)
    } else if names.contains(&"matroska") || names.contains(&"webm") {
        if matches!(video_codec, "vp8" | "vp9" | "av1") {
            Some(Container::WebM)
        } else {
            Some(Container::Matroska)
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demuxer_comes_from_the_files_first_bytes() {
        assert_eq!(demuxer_of(b"\0\0\0\x20ftypisom\0\0\0\0"), Some("mov"));
        assert_eq!(
            demuxer_of(&[0x1a, 0x45, 0xdf, 0xa3, 0x9f]),
            Some("matroska")
        );
        assert_eq!(demuxer_of(b"#EXTM3U\n#EXT-X-VERSION:3\n"), None);
        assert_eq!(demuxer_of(b"ffconcat version 1.0\n"), None);
    }

    #[test]
    fn a_picture_past_the_pixel_limit_is_refused_from_its_headers() {
        let huge = r#"{"codec_type":"video","codec_name":"h264","width":8192,"height":8192}"#;
        let err = judge(&json("mov,mp4,m4a,3gp,3g2,mj2", huge, "1.0")).unwrap_err();
        assert!(err.to_string().contains("8192x8192"), "{err}");
    }

    fn json(format: &str, streams: &str, duration: &str) -> Vec<u8> {
        format!(
            r#"{{"streams":[{streams}],"format":{{"format_name":"{format}","duration":"{duration}"}}}}"#
        )
        .into_bytes()
    }

    const H264: &str = r#"{"codec_type":"video","codec_name":"h264","width":320,"height":240}"#;
    const AAC: &str = r#"{"codec_type":"audio","codec_name":"aac"}"#;

    #[test]
    fn an_mp4_with_video_and_sound_is_playable() {
        let p = judge(&json(
            "mov,mp4,m4a,3gp,3g2,mj2",
            &format!("{H264},{AAC}"),
            "2.5",
        ))
        .unwrap();
        assert_eq!(p.container, Container::Mp4);
        assert_eq!(p.duration_ms, 2500);
        assert_eq!((p.width, p.height), (320, 240));
        assert_eq!(
            (p.video_codec.as_str(), p.audio_codec.as_str()),
            ("h264", "aac")
        );
    }

    #[test]
    fn sound_only_files_are_refused() {
        let err = judge(&json("mov,mp4,m4a,3gp,3g2,mj2", AAC, "2.5")).unwrap_err();
        assert!(err.to_string().contains("no video stream"), "{err}");
    }

    #[test]
    fn a_cover_picture_is_not_a_video_stream() {
        let cover = r#"{"codec_type":"video","codec_name":"mjpeg","width":1,"height":1,"disposition":{"attached_pic":1}}"#;
        let err = judge(&json("mp3", &format!("{cover},{AAC}"), "3")).unwrap_err();
        assert!(err.to_string().contains("no video stream"), "{err}");
    }

    #[test]
    fn still_images_and_unplayable_containers_are_refused() {
        let png = r#"{"codec_type":"video","codec_name":"png","width":8,"height":8}"#;
        assert!(judge(&json("png_pipe", png, "")).is_err());
        let err = judge(&json("avi", H264, "4")).unwrap_err();
        assert!(err.to_string().contains("upload MP4"), "{err}");
    }

    #[test]
    fn webm_is_told_apart_from_other_matroska() {
        let vp9 = r#"{"codec_type":"video","codec_name":"vp9","width":8,"height":8}"#;
        let p = judge(&json("matroska,webm", vp9, "1")).unwrap();
        assert_eq!(p.container.mime(), "video/webm");
        let p = judge(&json("matroska,webm", H264, "1")).unwrap();
        assert_eq!(p.container, Container::Matroska);
    }

    #[test]
    fn garbage_output_is_not_playable() {
        assert!(matches!(judge(b"{}"), Err(ProbeError::NotPlayable(_))));
        assert!(matches!(
            judge(b"not json"),
            Err(ProbeError::NotPlayable(_))
        ));
    }
}
