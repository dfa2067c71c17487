//! Who may do what on the dashboard: accounts with a role, argon2 password hashes, login tokens (only
//! their SHA-256 is stored), and which role reaches which area. Sans-IO: the store keeps accounts,
//! the web layer sets cookies.

pub mod throttle;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use throttle::LoginThrottle;

/// What went wrong with an account or a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// Not a role classhub knows.
    #[error("unknown role {0:?} (teacher, technician or admin)")]
    UnknownRole(String),
    /// A user name that is empty, too long or has other characters than a-z, 0-9, `.`, `_`, `-`.
    #[error("user name {0:?}: use 1 to 64 of a-z, 0-9, '.', '_' and '-'")]
    BadUsername(String),
    /// A password shorter than [`MIN_PASSWORD`].
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    ShortPassword,
    /// The hasher failed (cannot happen with the default parameters).
    #[error("password hashing: {0}")]
    Hash(String),
}

/// The shortest password classhub accepts.
pub const MIN_PASSWORD: usize = 10;

/// A role: what an account may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs lessons: sessions, questions, attendance.
    Teacher,
    /// Looks after the clickers.
    Technician,
    /// Everything, and the accounts.
    Admin,
}

/// A part of the dashboard, guarded by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Lessons: the teacher view and the classroom API.
    Teaching,
    /// Devices: the technician view, registering clickers, metrics.
    Devices,
    /// Accounts.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Teacher, Role::Technician, Role::Admin];

    /// The name stored and typed.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Technician => "technician",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Role, AuthError> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| AuthError::UnknownRole(s.to_owned()))
    }

    /// Whether this role may enter `area`. A teacher never reaches the technician's or the admin's
    /// pages; an admin reaches everything.
    pub const fn reaches(self, area: Area) -> bool {
        matches!((self, area), (Role::Admin, _) | (Role::Teacher, Area::Teaching) | (Role::Technician, Area::Devices))
    }

    /// Where this role lands after logging in.
    pub const fn home(self) -> &'static str {
        match self {
            Role::Teacher => "/rooms",
            Role::Technician => "/devices",
            Role::Admin => "/rooms",
        }
    }
}

/// A user name: 1 to 64 of a-z, 0-9, `.`, `_`, `-` (typed names are lower-cased first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Username(String);

impl Username {
    /// Parses a typed user name.
    pub fn parse(s: &str) -> Result<Username, AuthError> {
        let name = s.trim().to_ascii_lowercase();
        let ok = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok { Ok(Username(name)) } else { Err(AuthError::BadUsername(s.to_owned())) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A logged-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Its row id.
    pub id: i64,
    /// Its name.
    pub name: Username,
    /// Its role.
    pub role: Role,
}

/// argon2id with 7 MiB and 5 passes: one of OWASP's equivalent settings, chosen over the 19 MiB one
/// because a login on a Raspberry Pi should not cost the hub 19 MiB of memory.
fn hasher() -> Argon2<'static> {
    // Cannot fail: 7168 KiB, 5 passes and 1 lane are within argon2's limits.
    let params = Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AuthError::ShortPassword);
    }
    hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| AuthError::Hash(e.to_string()))
}

/// A hash of a random password with the same parameters, verified against when a user name is
/// unknown, so that the answer takes as long as for a known one.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        // Cannot fail: the password is 16 characters, and the parameters are valid.
        hash_password(&new_password()).expect("hashable")
    });
    &DUMMY
}

/// Whether `password` matches the PHC string `stored` (false for a broken hash).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    // The parameters come from the stored hash.
    hasher().verify_password(password.as_bytes(), &hash).is_ok()
}

/// A fresh password that is easy to read aloud and type: 16 characters without look-alikes.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A random secret as lowercase hex (`bytes` of randomness).
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    crate::hex(&(0..bytes).map(|_| rng.random::<u8>()).collect::<Vec<u8>>())
}

/// The secret in a login cookie. The store keeps only [`LoginToken::digest`], so a copy of the
/// database lets no one in.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginToken(String);

impl LoginToken {
    /// A fresh token (256 random bits).
    pub fn generate() -> LoginToken {
        LoginToken(random_hex(32))
    }

    /// A token as the cookie carried it; `None` unless it has the right shape.
    pub fn from_cookie(value: &str) -> Option<LoginToken> {
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| LoginToken(value.to_owned()))
    }

    /// What goes in the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps: SHA-256 of the token, hex.
    pub fn digest(&self) -> String {
        crate::hex(&Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for LoginToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teacher_reaches_lessons_only_and_an_admin_everything() {
        assert!(Role::Teacher.reaches(Area::Teaching));
        assert!(!Role::Teacher.reaches(Area::Devices));
        assert!(!Role::Teacher.reaches(Area::Admin));
        assert!(Role::Technician.reaches(Area::Devices));
        assert!(!Role::Technician.reaches(Area::Teaching));
        assert!(!Role::Technician.reaches(Area::Admin));
        for area in [Area::Teaching, Area::Devices, Area::Admin] {
            assert!(Role::Admin.reaches(area));
        }
    }

    #[test]
    fn roles_and_names_parse_at_the_edge() {
        assert_eq!(Role::parse("technician"), Ok(Role::Technician));
        assert!(matches!(Role::parse("student"), Err(AuthError::UnknownRole(_))));
        assert_eq!(Username::parse(" J.deVries ").unwrap().as_str(), "j.devries");
        for bad in ["", "a b", "jan@school.nl", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_right_password_opens_and_a_wrong_one_does_not() {
        let stored = hash_password("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{stored}");
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=7168,t=5,p=1$"));
        assert!(verify_password("correct horse battery", &stored));
        assert!(!verify_password("correct horse batterY", &stored));
        assert!(!verify_password("anything", "not a hash"));
        assert_eq!(hash_password("short"), Err(AuthError::ShortPassword));
    }

    #[test]
    fn tokens_are_stored_only_as_their_digest() {
        let token = LoginToken::generate();
        assert_eq!(token.as_str().len(), 64);
        assert_eq!(LoginToken::from_cookie(token.as_str()), Some(token.clone()));
        assert_ne!(token.digest(), token.as_str());
        assert_eq!(token.digest().len(), 64);
        assert_eq!(LoginToken::from_cookie("../../etc"), None);
        assert!(!format!("{token:?}").contains(token.as_str()), "never in a log");
        let password = new_password();
        assert_eq!(password.len(), 16);
        assert!(hash_password(&password).is_ok());
    }
}
