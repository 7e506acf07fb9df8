//! Validated danmaku input: text, colour and mode, checked before a message reaches a room.

use crate::protocol::Mode;

/// A danmaku's text: trimmed, 1 to `max_chars` characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanmakuText(String);

/// Why input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DanmakuError {
    Empty,
    TooLong { max_chars: usize },
    ControlCharacters,
    BadColor,
    BadMode,
}

impl std::fmt::Display for DanmakuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DanmakuError::Empty => f.write_str("the message is empty"),
            DanmakuError::TooLong { max_chars } => {
                write!(f, "a message has at most {max_chars} characters")
            }
            DanmakuError::ControlCharacters => f.write_str("control characters are not allowed"),
            DanmakuError::BadColor => f.write_str("color must be #rrggbb"),
            DanmakuError::BadMode => f.write_str("mode must be scroll, top or bottom"),
        }
    }
}

impl DanmakuText {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, DanmakuError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DanmakuError::Empty);
        }
        if text.chars().count() > max_chars {
            return Err(DanmakuError::TooLong { max_chars });
        }
        // Bidi overrides and other format characters are refused with the control
        // characters: they let one message rearrange how others are read.
        if text.chars().any(|c| c.is_control() || is_hidden_format(c)) {
            return Err(DanmakuError::ControlCharacters);
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Characters that change how text around them is read without showing themselves:
/// bidirectional overrides, embeddings, isolates and marks, and zero-width spaces and
/// joiners that hide one word inside another (the zero-width joiner and non-joiner stay:
/// emoji sequences and several scripts need them). User text of every kind refuses them.
pub fn is_hidden_format(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{180E}'
    )
}

/// `#rrggbb`, lower-cased; white when absent.
pub fn parse_color(raw: Option<&str>) -> Result<String, DanmakuError> {
    let Some(raw) = raw else {
        return Ok("#ffffff".into());
    };
    let hex = raw.strip_prefix('#').ok_or(DanmakuError::BadColor)?;
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(DanmakuError::BadColor)
    }
}

/// scroll, top or bottom; scroll when absent.
pub fn parse_mode(raw: Option<&str>) -> Result<Mode, DanmakuError> {
    match raw {
        None => Ok(Mode::Scroll),
        Some(s) => Mode::parse(s).ok_or(DanmakuError::BadMode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_kept() {
        let t = DanmakuText::parse("  hello 世界  ", 200).unwrap();
        assert_eq!(t.into_string(), "hello 世界");
    }

    #[test]
    fn empty_and_whitespace_only_text_is_refused() {
        assert_eq!(DanmakuText::parse("   ", 200), Err(DanmakuError::Empty));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(DanmakuText::parse(&"字".repeat(200), 200).is_ok());
        assert_eq!(
            DanmakuText::parse(&"字".repeat(201), 200),
            Err(DanmakuError::TooLong { max_chars: 200 })
        );
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        for bad in ["a\u{0007}b", "line\nbreak", "evil\u{202E}txt", "nul\0"] {
            assert_eq!(
                DanmakuText::parse(bad, 200),
                Err(DanmakuError::ControlCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn colors_must_be_six_hex_digits() {
        assert_eq!(parse_color(None).unwrap(), "#ffffff");
        assert_eq!(parse_color(Some("#FF00aa")).unwrap(), "#ff00aa");
        for bad in [
            "red",
            "#fff",
            "ff00aa",
            "#ff00zz",
            "#ff00aa;x",
            "javascript:",
        ] {
            assert_eq!(parse_color(Some(bad)), Err(DanmakuError::BadColor), "{bad}");
        }
    }

    #[test]
    fn modes_are_scroll_top_or_bottom() {
        assert_eq!(parse_mode(None).unwrap(), Mode::Scroll);
        assert_eq!(parse_mode(Some("bottom")).unwrap(), Mode::Bottom);
        assert_eq!(parse_mode(Some("left")), Err(DanmakuError::BadMode));
    }
}
