//! `SourceUrl`: where a room's live video comes from. Only network protocols a camera or
//! encoder speaks (`rtsp`, `rtmp`, `http(s)`, `srt`) and, when `ingest.allow_files` is on,
//! `file:`. Everything ffmpeg would also accept as a way to read the server's files or chain
//! protocols (`concat:`, `subfile:`, `pipe:`, `data:`, nested URLs) is refused here, and
//! `protocol_whitelist` blocks it again inside ffmpeg.

use crate::config::redact_url_password;

/// A live source that passed validation.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceUrl(String);

const MAX_LEN: usize = 2048;

impl SourceUrl {
    pub fn parse(raw: &str, allow_files: bool) -> Result<Self, String> {
        let url = raw.trim();
        if url.is_empty() || url.len() > MAX_LEN {
            return Err(format!("source_url must be 1 to {MAX_LEN} characters"));
        }
        if url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '|' | '\\' | '"' | '\'' | '`')
        }) {
            return Err(
                "source_url cannot contain spaces, quotes, pipes or control characters".into(),
            );
        }
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| "source_url needs a scheme such as rtsp://".to_string())?;
        let scheme = scheme.to_ascii_lowercase();
        if rest.contains("://") {
            return Err("source_url cannot contain another URL".into());
        }
        match scheme.as_str() {
            "rtsp" | "rtsps" | "rtmp" | "rtmps" | "http" | "https" | "srt" => {
                let after = rest.strip_prefix("//").ok_or_else(|| {
                    format!("a {scheme} source must look like {scheme}://host/...")
                })?;
                check_authority(after)?;
            }
            "file" if allow_files => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
                    return Err("a file source must be an absolute path without ..".into());
                }
            }
            _ => {
                return Err(
                    "source_url must be an rtsp://, rtmp://, http(s):// or srt:// URL".into(),
                )
            }
        }
        Ok(Self(format!("{scheme}:{rest}")))
    }

    /// The URL itself, for ffmpeg only. Never log or show it; use `redacted()`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(&self.0)
    }

    /// The host (without brackets) and port (the scheme's default when none is given), or
    /// `None` for `file:` sources.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let rest = self.0.split_once("://")?.1;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host_port = rest[..end]
            .rsplit_once('@')
            .map_or(&rest[..end], |(_, h)| h);
        let (host, port) = match host_port.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']')?;
                (h, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            },
        };
        let default = match self.scheme() {
            "rtsp" => 554,
            "rtsps" => 322,
            "rtmp" => 1935,
            "rtmps" | "https" => 443,
            "http" => 80,
            _ => 0,
        };
        let port = port.and_then(|p| p.parse().ok()).unwrap_or(default);
        (self.scheme() != "file").then(|| (host.to_string(), port))
    }

    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map_or("", |(s, _)| s)
    }

    /// The protocols ffmpeg may use for this source (`-protocol_whitelist`), so that a
    /// playlist or redirect cannot lead it to another protocol.
    pub fn protocol_whitelist(&self) -> &'static str {
        match self.scheme() {
            "rtsp" | "rtsps" => "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
            "rtmp" | "rtmps" => "rtmp,rtmps,tcp,tls",
            "http" | "https" => "http,https,httpproxy,tcp,tls",
            "srt" => "srt,udp",
            _ => "file",
        }
    }
}

impl std::fmt::Debug for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceUrl({:?})", self.redacted())
    }
}

impl std::fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `[user[:password]@]host[:port]` before the path: a host is required, a port is numeric.
fn check_authority(after_slashes: &str) -> Result<(), String> {
    let end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let authority = &after_slashes[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, rest) = v6
            .split_once(']')
            .ok_or("source_url has a broken IPv6 address")?;
        (h, rest.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("source_url needs a host".into());
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err("source_url has a bad port".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_and_encoder_urls_are_accepted() {
        for ok in [
            "rtsp://192.168.1.20:554/stream1",
            "rtsp://admin:secret@cam.local/h264",
            "RTMP://live.example.org/app/key",
            "http://encoder:8080/live.ts",
            "https://example.org/stream.flv",
            "srt://[::1]:9000?mode=caller",
        ] {
            assert!(SourceUrl::parse(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            SourceUrl::parse("RTMP://h/a", false).unwrap().scheme(),
            "rtmp"
        );
    }

    #[test]
    fn ffmpeg_protocol_tricks_are_refused() {
        for bad in [
            "concat:http://a/1.ts|http://a/2.ts",
            "subfile,,start,0,end,100,,:/etc/passwd",
            "pipe:0",
            "data:video/mp4;base64,AAAA",
            "file:/etc/passwd",
            "/etc/passwd",
            "tcp://host:1234",
            "udp://239.0.0.1:1234",
            "hls+http://host/x.m3u8",
            "http://host/x?next=file:///etc/passwd",
            "http://host/a|file:/etc/passwd",
            "rtsp:/etc/passwd",
            "rtsp://",
            "rtsp://:554/x",
            "rtsp://host:99999/x",
            "http://host/x y",
            "gopher://host/",
            "",
        ] {
            assert!(
                SourceUrl::parse(bad, false).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn files_only_when_allowed_and_absolute() {
        assert!(SourceUrl::parse("file:/srv/test.ts", false).is_err());
        assert!(SourceUrl::parse("file:/srv/test.ts", true).is_ok());
        assert!(SourceUrl::parse("file:relative.ts", true).is_err());
        assert!(SourceUrl::parse("file:/srv/../etc/passwd", true).is_err());
        assert_eq!(
            SourceUrl::parse("file:/srv/x.ts", true)
                .unwrap()
                .protocol_whitelist(),
            "file"
        );
    }

    #[test]
    fn passwords_never_show() {
        let url = SourceUrl::parse("rtsp://admin:hunter2@cam/x", false).unwrap();
        assert_eq!(url.redacted(), "rtsp://admin:***@cam/x");
        assert!(!format!("{url} {url:?}").contains("hunter2"));
    }

    #[test]
    fn each_scheme_gets_only_its_own_protocols() {
        let http = SourceUrl::parse("http://h/x.ts", false).unwrap();
        assert!(!http.protocol_whitelist().contains("file"));
        assert!(!http.protocol_whitelist().contains("crypto"));
    }
}
