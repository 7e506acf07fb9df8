//! What users write about videos: `VideoTitle`, `VideoDescription` and `CommentBody`.
//!
//! Titles are one line; descriptions and comments may span lines (newlines and tabs are
//! kept) but no other control characters get through.

/// A video title: 1 to 200 characters after trimming, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTitle(String);

/// A video description: up to 5000 characters, may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoDescription(String);

/// A comment: 1 to 2000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

fn has_forbidden_controls(text: &str, allow_newlines: bool) -> bool {
    text.chars().any(|c| {
        (c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
            || roomcast_actors::danmaku::is_hidden_format(c)
    })
}

fn check(raw: &str, what: &str, min: usize, max: usize, multiline: bool) -> Result<String, String> {
    let text = raw.trim();
    let count = text.chars().count();
    if count < min {
        return Err(format!("{what} cannot be empty"));
    }
    if count > max {
        return Err(format!("{what} has at most {max} characters"));
    }
    if has_forbidden_controls(text, multiline) {
        return Err(format!(
            "{what} cannot contain control, bidirectional-override or zero-width characters"
        ));
    }
    Ok(text.replace("\r\n", "\n"))
}

impl VideoTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        check(raw, "a title", 1, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl VideoDescription {
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        check(raw, "a description", 0, Self::MAX_CHARS, true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CommentBody {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        check(raw, "a comment", 1, Self::MAX_CHARS, true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_zero_width_spaces_are_refused_but_emoji_joiners_are_not() {
        for bad in [
            "evil\u{202E}gnp.exe",
            "pay\u{200B}pal",
            "\u{2066}x\u{2069}",
            "\u{FEFF}t",
        ] {
            assert!(VideoTitle::parse(bad).is_err(), "{bad:?}");
            assert!(CommentBody::parse(bad).is_err(), "{bad:?}");
            assert!(crate::domain::RoomTitle::parse(bad).is_err(), "{bad:?}");
        }
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert!(CommentBody::parse(family).is_ok());
    }

    #[test]
    fn a_title_is_one_trimmed_line() {
        assert_eq!(VideoTitle::parse("  Sunset  ").unwrap().as_str(), "Sunset");
        assert!(VideoTitle::parse("two\nlines").is_err());
        assert!(VideoTitle::parse("  ").is_err());
        assert!(VideoTitle::parse(&"t".repeat(201)).is_err());
    }

    #[test]
    fn descriptions_may_be_empty_and_span_lines() {
        assert_eq!(VideoDescription::parse("").unwrap().as_str(), "");
        assert_eq!(VideoDescription::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert!(VideoDescription::parse("bell\u{7}").is_err());
        assert!(VideoDescription::parse(&"d".repeat(5001)).is_err());
    }

    #[test]
    fn comments_need_text() {
        assert!(CommentBody::parse(" \n ").is_err());
        assert_eq!(
            CommentBody::parse(" nice\nvideo ").unwrap().as_str(),
            "nice\nvideo"
        );
        assert!(CommentBody::parse("nul\0").is_err());
    }
}
