//! Validated input: one newtype per kind of value a user sends us.

mod password;
mod username;

pub use password::Password;
pub use username::Username;
