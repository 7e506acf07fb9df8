//! Keeping a source's secrets out of what the pipeline says. A source URL can carry
//! credentials in its user part, its password, its path (stream keys) or its query
//! (tokens), and ffmpeg repeats the URL, whole or in part, in its error lines. Only the
//! scheme, host and port may reach logs, metrics and visitors.

/// `scheme://host[:port]` of a URL (nothing after the authority, no user part).
pub fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host_port}")
}

/// `line` with every URL in it cut to its origin and every secret part of `source` that
/// is still there (user, password, path, query, as ffmpeg may print them alone) masked.
pub fn scrub(line: &str, source: &str) -> String {
    let mut out = cut_urls(line);
    for secret in secret_parts(source) {
        out = out.replace(&secret, "***");
    }
    out
}

/// Every `scheme://...` run in `text` replaced by its origin.
fn cut_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`'))
            .map_or(rest.len(), |i| at + 3 + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&origin(&rest[scheme_start..end]));
        // ffmpeg follows an input's name with ": message"; keep the colon if it was cut.
        if rest[scheme_start..end].ends_with(':') {
            out.push(':');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The parts of a source URL that may be secret, longest first (so that a part is masked
/// whole before a shorter part inside it).
fn secret_parts(source: &str) -> Vec<String> {
    let Some((_, rest)) = source.split_once("://") else {
        return Vec::new();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut parts = Vec::new();
    if let Some((user_info, _)) = authority.rsplit_once('@') {
        parts.extend(user_info.split(':').map(str::to_string));
        parts.push(user_info.to_string());
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    parts.push(path.to_string());
    parts.extend(path.split('/').map(str::to_string));
    parts.push(query.to_string());
    parts.extend(
        query
            .split('&')
            .flat_map(|kv| kv.split('='))
            .map(str::to_string),
    );
    // Short pieces ("live", "1") would mask ordinary words: they say little on their own.
    parts.retain(|p| p.len() >= 5);
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    parts.dedup();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_keeps_scheme_host_and_port_only() {
        assert_eq!(
            origin("rtsp://admin:pw@10.0.0.5:554/Streaming/1?token=x"),
            "rtsp://10.0.0.5:554"
        );
        assert_eq!(origin("http://TOKEN@host/cam"), "http://host");
    }

    #[test]
    fn a_query_token_in_an_ffmpeg_line_is_cut() {
        let source = "http://host/cam/live.ts?token=SECRET123";
        let line = "http://host/cam/live.ts?token=SECRET123: Server returned 404 Not Found";
        assert_eq!(
            scrub(line, source),
            "http://host: Server returned 404 Not Found"
        );
    }

    #[test]
    fn a_user_only_credential_is_cut() {
        let source = "http://TOKEN-abc123@host:8080/feed";
        let line = "[http @ 0x55] Opening 'http://TOKEN-abc123@host:8080/feed' for reading";
        let out = scrub(line, source);
        assert!(!out.contains("TOKEN-abc123"), "{out}");
        assert!(out.contains("http://host:8080"), "{out}");
    }

    #[test]
    fn secret_parts_printed_without_their_url_are_masked() {
        let source = "rtmp://host/live/sk_9f8e7d6c";
        let line = "[rtmp @ 0x1] Server error: stream sk_9f8e7d6c not found";
        assert_eq!(
            scrub(line, source),
            "[rtmp @ 0x1] Server error: stream *** not found"
        );
    }
}
