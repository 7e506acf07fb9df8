//! `RoomTitle`: 1 to 100 characters after trimming, no control characters.

/// A room title that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTitle(String);

impl RoomTitle {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let title = raw.trim();
        if title.is_empty() {
            return Err("a room needs a title".into());
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "a title has at most {} characters",
                Self::MAX_CHARS
            ));
        }
        if title
            .chars()
            .any(|c| c.is_control() || roomcast_actors::danmaku::is_hidden_format(c))
        {
            return Err(
                "a title cannot contain control, bidirectional-override or zero-width characters"
                    .into(),
            );
        }
        Ok(Self(title.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::RoomTitle;

    #[test]
    fn a_title_is_trimmed() {
        assert_eq!(
            RoomTitle::parse("  Night market ").unwrap().as_str(),
            "Night market"
        );
    }

    #[test]
    fn empty_long_and_control_titles_are_rejected() {
        assert!(RoomTitle::parse("   ").is_err());
        assert!(RoomTitle::parse(&"x".repeat(101)).is_err());
        assert!(RoomTitle::parse("a\u{0}b").is_err());
    }
}
