//! `Username`: 3 to 32 characters of `[a-z0-9_]`.

use std::fmt;

/// A username that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    /// Accepts exactly `[a-z0-9_]{3,32}`; nothing is trimmed or lower-cased behind the
    /// user's back, so what they typed is what they log in with.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(format!(
                "a username has {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err("a username uses only a-z, 0-9 and _".into());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn a_name_of_lowercase_letters_digits_and_underscores_is_accepted() {
        for name in ["abc", "user_01", "a".repeat(32).as_str()] {
            assert!(Username::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_name_that_is_too_short_or_too_long_is_rejected() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn capitals_spaces_punctuation_and_unicode_are_rejected() {
        for name in [
            "Alice", "al ice", "al-ice", "al.ice", "ålice", "abc\n", "../etc",
        ] {
            assert!(Username::parse(name).is_err(), "{name:?}");
        }
    }
}
