//! The ffmpeg command line of a pipeline: one input, two outputs through the `tee` muxer
//! (HLS files in the room's directory, fragmented MP4 on stdout), with time-outs and a
//! protocol whitelist on the input.

use std::path::PathBuf;

/// Everything needed to start one ingest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestSpec {
    /// The room, for logs and paths.
    pub room_id: String,
    /// The source as ffmpeg gets it (may hold credentials: never log it).
    pub url: String,
    /// The source's scheme, host and port only: what logs and errors may say of it.
    pub redacted: String,
    /// `-protocol_whitelist` for the input.
    pub protocol_whitelist: String,
    /// For HTTP(S) sources: the proxy every connection goes through (`-http_proxy`).
    pub http_proxy: Option<String>,
    /// The longest wait between restarts of a failing source.
    pub max_backoff: std::time::Duration,
    /// Where the HLS playlist and segments go (the child's working directory).
    pub hls_dir: PathBuf,
    /// The ffmpeg binary.
    pub ffmpeg: String,
    /// The source wakes on demand: started by the first video viewer.
    pub on_demand: bool,
    pub timing: IngestTiming,
    /// Pushed by a publisher (FLV on ffmpeg's stdin) rather than pulled from `url`.
    pub pushed: bool,
}

/// How long a pipeline waits for things (settings, so that tests can make them short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestTiming {
    /// A run with no fragment for this long is killed and restarted (`ingest.stall_ms`).
    pub stall_after: std::time::Duration,
    /// An on-demand source stops this long after its last viewer left
    /// (`ingest.on_demand_linger_ms`).
    pub linger: std::time::Duration,
    /// A follower waits this long for a snapshot before relaying live packets without one.
    pub snapshot_wait: std::time::Duration,
    /// Another node's demand for an on-demand source counts for this long.
    pub demand_lasts: std::time::Duration,
}

impl Default for IngestTiming {
    fn default() -> Self {
        use std::time::Duration;
        Self {
            stall_after: Duration::from_secs(10),
            linger: Duration::from_secs(10),
            snapshot_wait: Duration::from_millis(2500),
            demand_lasts: Duration::from_secs(3),
        }
    }
}

/// Seconds of HLS per segment, segments in the playlist.
const HLS_SEGMENT_SECS: u32 = 1;
const HLS_LIST_SIZE: u32 = 6;
/// fMP4 fragments are cut at keyframes or after this many microseconds.
const FRAGMENT_US: u32 = 200_000;
/// Network reads and connects give up after this many microseconds.
const IO_TIMEOUT_US: u32 = 10_000_000;
/// How much input ffmpeg reads to find the streams of a pulled source, and of a pushed one.
const PULLED_ANALYZE_US: u32 = 1_000_000;
const PUSHED_ANALYZE_US: u32 = 200_000;

/// Which streams are re-encoded (to H.264 and AAC); the others are copied as they come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transcode {
    pub video: bool,
    pub audio: bool,
}

/// The arguments after the binary.
pub fn arguments(spec: &IngestSpec, transcode: Transcode) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-stats"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend([
        "-protocol_whitelist".into(),
        spec.protocol_whitelist.clone(),
    ]);
    let scheme = if spec.pushed {
        "pipe"
    } else {
        spec.url.split(':').next().unwrap_or("")
    };
    match scheme {
        // A publisher's FLV, as it arrives: no pacing, no time-outs of ffmpeg's own (the
        // RTMP session drops a silent publisher).
        "pipe" => args.extend(["-f", "flv"].map(String::from)),
        "rtsp" | "rtsps" => args.extend(
            [
                "-rtsp_transport",
                "tcp",
                "-timeout",
                &IO_TIMEOUT_US.to_string(),
            ]
            .map(String::from),
        ),
        "file" => args.extend(["-re", "-stream_loop", "-1"].map(String::from)),
        _ => args.extend(["-rw_timeout".to_string(), IO_TIMEOUT_US.to_string()]),
    }
    if let Some(proxy) = &spec.http_proxy {
        args.extend(["-http_proxy".to_string(), proxy.clone()]);
    }
    // Probing stops after 1 s of a pulled source's input: enough to find a live source's
    // streams, and the first fragment is not held back by ffmpeg's default 5 s. A pushed
    // stream starts with both codecs' headers (the publisher's first tags are held until
    // both are in), so 200 ms finds them, and the picture reaches viewers 0.8 s sooner.
    let analyze_us = if spec.pushed {
        PUSHED_ANALYZE_US
    } else {
        PULLED_ANALYZE_US
    };
    args.extend(["-analyzeduration".to_string(), analyze_us.to_string()]);
    args.extend(
        [
            "-fflags",
            "+genpts",
            "-i",
            if spec.pushed { "pipe:0" } else { &spec.url },
        ]
        .map(String::from),
    );
    args.extend(["-map", "0:v:0", "-map", "0:a:0?"].map(String::from));
    if transcode.video {
        args.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-pix_fmt",
                "yuv420p",
                "-force_key_frames",
                "expr:gte(t,n_forced*1)",
            ]
            .map(String::from),
        );
    } else {
        args.extend(["-c:v", "copy"].map(String::from));
    }
    if transcode.audio {
        args.extend(["-c:a", "aac", "-b:a", "128k"].map(String::from));
    } else {
        args.extend(["-c:a", "copy"].map(String::from));
    }
    // HLS segments are numbered from the clock (`epoch`), so a restarted run, or the run of
    // another node that took the source over, continues the media sequence instead of
    // starting again at 0 under names players already fetched; `discont_start` tells them
    // the timestamps start afresh.
    // A failing output stops ffmpeg (onfail=abort), so the pipeline restarts it rather than
    // running on with one output dead. `delay_moov` writes the init segment once the first
    // fragment is cut, when the audio's configuration (from aac_adtstoasc) is known. The tags make copied MPEG-TS streams acceptable to the MP4 muxer; ADTS audio from TS
    // sources needs its headers turned into MP4's form (a no-op for other AAC).
    args.extend(["-tag:v", "avc1", "-tag:a", "mp4a"].map(String::from));
    let tee = format!(
        "[f=hls:onfail=abort:hls_time={HLS_SEGMENT_SECS}:hls_list_size={HLS_LIST_SIZE}:\
         hls_flags=delete_segments+omit_endlist+independent_segments+discont_start:\
         hls_start_number_source=epoch:hls_segment_filename=seg%d.ts]index.m3u8|\
         [f=mp4:onfail=abort:bsfs/a=aac_adtstoasc:movflags=frag_keyframe+empty_moov+delay_moov+default_base_moof:\
         frag_duration={FRAGMENT_US}]pipe:1"
    );
    args.extend(["-f".to_string(), "tee".to_string(), tee]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> IngestSpec {
        IngestSpec {
            room_id: "r".into(),
            url: url.into(),
            redacted: url.into(),
            protocol_whitelist: "rtsp,rtp,tcp".into(),
            http_proxy: None,
            max_backoff: std::time::Duration::from_secs(10),
            hls_dir: "/tmp".into(),
            ffmpeg: "ffmpeg".into(),
            on_demand: false,
            timing: IngestTiming::default(),
            pushed: false,
        }
    }

    fn has(args: &[String], pair: [&str; 2]) -> bool {
        args.windows(2).any(|w| w[0] == pair[0] && w[1] == pair[1])
    }

    #[test]
    fn a_pushed_source_is_read_as_flv_from_stdin() {
        let mut pushed = spec("pipe:0");
        pushed.pushed = true;
        pushed.protocol_whitelist = "pipe".into();
        let args = arguments(&pushed, Transcode::default());
        assert!(has(&args, ["-f", "flv"]));
        assert!(has(&args, ["-i", "pipe:0"]));
        assert!(has(&args, ["-analyzeduration", "200000"]), "{args:?}");
        assert!(has(&args, ["-protocol_whitelist", "pipe"]));
        assert!(!args.iter().any(|a| a == "-re" || a == "-rw_timeout"));
    }

    #[test]
    fn rtsp_uses_tcp_a_timeout_and_the_whitelist() {
        let args = arguments(&spec("rtsp://cam/x"), Transcode::default());
        assert!(has(&args, ["-rtsp_transport", "tcp"]));
        assert!(has(&args, ["-protocol_whitelist", "rtsp,rtp,tcp"]));
        assert!(has(&args, ["-c:v", "copy"]));
        assert!(has(&args, ["-c:a", "copy"]));
        assert!(args.last().unwrap().contains("pipe:1"));
    }

    #[test]
    fn transcoding_makes_h264_with_a_keyframe_each_second() {
        let both = Transcode {
            video: true,
            audio: true,
        };
        let args = arguments(&spec("http://enc/x.ts"), both);
        assert!(has(&args, ["-c:v", "libx264"]));
        assert!(has(&args, ["-c:a", "aac"]));
        assert!(has(&args, ["-tune", "zerolatency"]));
        assert!(has(&args, ["-rw_timeout", "10000000"]));
    }

    #[test]
    fn the_url_is_one_argument_never_split() {
        let args = arguments(&spec("rtsp://u:p@cam/a b"), Transcode::default());
        assert!(args.iter().any(|a| a == "rtsp://u:p@cam/a b"));
    }
}
