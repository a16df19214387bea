//! TURN REST credentials ("A REST API for access to TURN services"): the
//! username is `<expiry unix seconds>:<user id>`, the password is
//! base64(HMAC-SHA1(secret, username)). The relay recomputes the password
//! from the username, so the server stores nothing per credential, and
//! anyone holding the secret (every node) can check it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parley_protocol::UserId;
use ring::hmac;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A username and password for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `<expiry>:<user id>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub password: String,
}

/// Seconds since the Unix epoch (0 for a clock before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A credential for `user`, valid until `expires_at` (Unix seconds).
pub fn issue(secret: &str, user: UserId, expires_at: u64) -> Credential {
    let username = format!("{expires_at}:{user}");
    let password = password(secret, &username);
    Credential { username, password }
}

/// A credential for `user`, valid for `ttl` from now.
pub fn issue_for(secret: &str, user: UserId, ttl: Duration) -> Credential {
    issue(secret, user, unix_now().saturating_add(ttl.as_secs()))
}

/// The password that belongs to `username`.
pub fn password(secret: &str, username: &str) -> String {
    // SHA-1 because TURN REST clients and servers (coturn, browsers' users)
    // agree on it; as an HMAC it is still sound.
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref())
}

/// Expiry and account of a username, or `None` when it is not ours.
pub fn parse_username(username: &str) -> Option<(u64, UserId)> {
    let (expiry, user) = username.split_once(':')?;
    Some((expiry.parse().ok()?, user.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_round_trips_and_password_is_the_rest_hmac() {
        let user = uuid::Uuid::from_u128(42).into();
        let cred = issue("s3cret", user, 1_700_000_000);
        assert_eq!(
            cred.username,
            "1700000000:00000000-0000-0000-0000-00000000002a"
        );
        assert_eq!(parse_username(&cred.username), Some((1_700_000_000, user)));
        // HMAC-SHA1 is 20 bytes: 28 characters of padded base64.
        assert_eq!(cred.password.len(), 28);
        assert_eq!(cred.password, password("s3cret", &cred.username));
        assert_ne!(cred.password, password("other", &cred.username));
    }

    #[test]
    fn password_matches_rfc_2202_hmac_sha1() {
        // RFC 2202, test case 2, base64-encoded.
        assert_eq!(
            password("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn foreign_usernames_are_refused() {
        for name in [
            "",
            "alice",
            "12:notauuid",
            "x:00000000-0000-0000-0000-00000000002a",
        ] {
            assert_eq!(parse_username(name), None, "{name}");
        }
    }
}
