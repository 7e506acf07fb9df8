//! `Password`: 8 to 1024 characters; never printed.

use std::fmt;

/// A password that passed the length rules. `Debug` hides it.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(format!(
                "a password has {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn passwords_of_8_to_1024_characters_are_accepted() {
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(1024)).is_ok());
    }

    #[test]
    fn shorter_or_longer_passwords_are_rejected() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
