//! RFC 9110's conditional and range rules as a pure function: request headers and the
//! file's validators in, a `Decision` out.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::Method;

/// What identifies one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub len: u64,
    /// Quoted strong entity tag.
    pub etag: String,
    /// Whole seconds since the epoch.
    pub modified_secs: u64,
}

impl Validators {
    pub fn from_metadata(meta: &std::fs::Metadata) -> Self {
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        // Stored files are never rewritten in place (they are renamed into place), so inode,
        // size and modification time identify the bytes: the tag can be strong.
        let etag = format!(
            "\"{:x}-{:x}-{:x}\"",
            meta.ino(),
            meta.len(),
            since.as_nanos()
        );
        Self {
            len: meta.len(),
            etag,
            modified_secs: since.as_secs(),
        }
    }

    pub fn last_modified(&self) -> header::HttpDate {
        (UNIX_EPOCH + Duration::from_secs(self.modified_secs)).into()
    }
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    NotModified,
    PreconditionFailed,
    Full,
    /// Inclusive byte range.
    Partial {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// Applies RFC 9110's conditional and range rules to one request.
pub fn decide(method: &Method, headers: &HeaderMap, v: &Validators) -> Decision {
    let text = |name: header::HeaderName| headers.get(name).and_then(|h| h.to_str().ok());
    if let Some(if_match) = text(header::IF_MATCH) {
        if !etag_list_matches(if_match, &v.etag, true) {
            return Decision::PreconditionFailed;
        }
    } else if let Some(date) = text(header::IF_UNMODIFIED_SINCE).and_then(parse_date) {
        if v.modified_secs > date {
            return Decision::PreconditionFailed;
        }
    }
    if let Some(if_none_match) = text(header::IF_NONE_MATCH) {
        if etag_list_matches(if_none_match, &v.etag, false) {
            return if matches!(*method, Method::GET | Method::HEAD) {
                Decision::NotModified
            } else {
                Decision::PreconditionFailed
            };
        }
    } else if let Some(date) = text(header::IF_MODIFIED_SINCE).and_then(parse_date) {
        if v.modified_secs <= date {
            return Decision::NotModified;
        }
    }
    let Some(range) = text(header::RANGE) else {
        return Decision::Full;
    };
    if let Some(if_range) = text(header::IF_RANGE) {
        if !if_range_holds(if_range.trim(), v) {
            return Decision::Full;
        }
    }
    parse_range(range, v.len)
}

fn parse_date(raw: &str) -> Option<u64> {
    let date: header::HttpDate = raw.trim().parse().ok()?;
    SystemTime::from(date)
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// `*` or a comma-separated list of tags; `strong` comparison refuses weak tags.
fn etag_list_matches(list: &str, etag: &str, strong: bool) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == etag || (!strong && tag.strip_prefix("W/").is_some_and(|t| t == etag))
    })
}

/// `If-Range` holds when its tag matches strongly or its date is exactly Last-Modified.
fn if_range_holds(value: &str, v: &Validators) -> bool {
    if value.starts_with('"') || value.starts_with("W/") {
        value == v.etag
    } else {
        parse_date(value) == Some(v.modified_secs)
    }
}

/// One range out of `bytes=...`. Several ranges or bad syntax: the whole file.
fn parse_range(raw: &str, len: u64) -> Decision {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Decision::Full;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return Decision::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Decision::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                Decision::Unsatisfiable
            } else {
                Decision::Partial {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if end.is_some() || last.trim().is_empty() => {
            if end.is_some_and(|e| e < start) {
                return Decision::Full;
            }
            if start >= len {
                return Decision::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            Decision::Partial { start, end }
        }
        _ => Decision::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn v() -> Validators {
        Validators {
            len: 1000,
            etag: "\"abc\"".into(),
            modified_secs: 1_700_000_000,
        }
    }

    fn decide_with(method: Method, pairs: &[(HeaderName, &str)]) -> Decision {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        decide(&method, &headers, &v())
    }

    fn get(pairs: &[(HeaderName, &str)]) -> Decision {
        decide_with(Method::GET, pairs)
    }

    fn range(spec: &str) -> Decision {
        get(&[(header::RANGE, spec)])
    }

    const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const EARLIER: &str = "Tue, 14 Nov 2023 22:13:19 GMT";

    #[test]
    fn no_range_sends_the_whole_file() {
        assert_eq!(get(&[]), Decision::Full);
    }

    #[test]
    fn closed_open_ended_and_suffix_ranges() {
        assert_eq!(range("bytes=0-99"), Decision::Partial { start: 0, end: 99 });
        assert_eq!(
            range("bytes=900-"),
            Decision::Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            range("bytes=-100"),
            Decision::Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            range("bytes=-5000"),
            Decision::Partial { start: 0, end: 999 }
        );
        assert_eq!(
            range("bytes=990-5000"),
            Decision::Partial {
                start: 990,
                end: 999
            }
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(range("bytes=1000-"), Decision::Unsatisfiable);
        assert_eq!(range("bytes=5000-6000"), Decision::Unsatisfiable);
        assert_eq!(range("bytes=-0"), Decision::Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_are_ignored() {
        for spec in [
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=1",
        ] {
            assert_eq!(range(spec), Decision::Full, "{spec}");
        }
    }

    #[test]
    fn if_none_match_gives_304_and_beats_if_modified_since() {
        assert_eq!(
            get(&[(header::IF_NONE_MATCH, "\"abc\"")]),
            Decision::NotModified
        );
        assert_eq!(
            get(&[(header::IF_NONE_MATCH, "W/\"abc\"")]),
            Decision::NotModified
        );
        assert_eq!(
            get(&[(header::IF_NONE_MATCH, "\"x\", \"abc\"")]),
            Decision::NotModified
        );
        assert_eq!(
            get(&[
                (header::IF_NONE_MATCH, "\"old\""),
                (header::IF_MODIFIED_SINCE, LAST_MODIFIED)
            ]),
            Decision::Full
        );
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        assert_eq!(
            get(&[(header::IF_MODIFIED_SINCE, LAST_MODIFIED)]),
            Decision::NotModified
        );
        assert_eq!(get(&[(header::IF_MODIFIED_SINCE, EARLIER)]), Decision::Full);
        assert_eq!(
            get(&[(header::IF_MODIFIED_SINCE, "not a date")]),
            Decision::Full
        );
    }

    #[test]
    fn if_range_keeps_the_range_only_for_the_same_version() {
        let r = (header::RANGE, "bytes=0-9");
        assert_eq!(
            get(&[r.clone(), (header::IF_RANGE, "\"abc\"")]),
            Decision::Partial { start: 0, end: 9 }
        );
        assert_eq!(
            get(&[r.clone(), (header::IF_RANGE, "\"other\"")]),
            Decision::Full
        );
        assert_eq!(
            get(&[r.clone(), (header::IF_RANGE, "W/\"abc\"")]),
            Decision::Full
        );
        assert_eq!(
            get(&[r.clone(), (header::IF_RANGE, LAST_MODIFIED)]),
            Decision::Partial { start: 0, end: 9 }
        );
        assert_eq!(get(&[r, (header::IF_RANGE, EARLIER)]), Decision::Full);
    }

    #[test]
    fn if_match_and_if_unmodified_since_guard_against_changed_files() {
        assert_eq!(
            get(&[(header::IF_MATCH, "\"other\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            get(&[(header::IF_MATCH, "W/\"abc\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(get(&[(header::IF_MATCH, "*")]), Decision::Full);
        assert_eq!(
            get(&[(header::IF_UNMODIFIED_SINCE, EARLIER)]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            get(&[(header::IF_UNMODIFIED_SINCE, LAST_MODIFIED)]),
            Decision::Full
        );
    }
}
