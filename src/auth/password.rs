//! Password hashing with argon2id. Both functions are CPU-heavy (tens of milliseconds):
//! call them through `web::block`, never on a worker thread.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::domain::Password;

/// The PHC string (`$argon2id$v=19$...`) for a password, with a fresh random salt.
pub fn hash(password: &Password) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// True when `password` matches the stored PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A hash of a random password, verified against when the username does not exist so that
/// a wrong username costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let p = Password::parse(super::token::random_token()).expect("64 chars is valid");
        hash(&p).expect("hashing with default parameters works")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_an_argon2id_phc_string_that_verifies() {
        let p = Password::parse("correct horse".into()).unwrap();
        let h = hash(&p).unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
    }

    #[test]
    fn a_malformed_stored_hash_never_verifies() {
        assert!(!verify("anything", "not a phc string"));
    }
}
