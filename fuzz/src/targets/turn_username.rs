//! TURN REST usernames (`<expiry>:<user id>`), which any client of the relay
//! sends in the clear: `credentials::parse_username` must not panic, and a
//! username it accepts must be one the server could have issued, naming the
//! same expiry and account.

use crate::engine::{Broken, Target, Verdict};
use parley_protocol::UserId;
use parley_server::turn::credentials;
use uuid::Uuid;

struct TurnUsernames;

impl Target for TurnUsernames {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let user = UserId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001));
        [0, 1_700_000_000, u64::MAX]
            .into_iter()
            .map(|expiry| {
                credentials::issue("secret", user, expiry)
                    .username
                    .into_bytes()
            })
            .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b":",
            b"-",
            b"+",
            b"{",
            b"}",
            b"urn:uuid:",
            b"18446744073709551616",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        // STUN carries the username as UTF-8; `turn` refuses anything else.
        let Ok(username) = std::str::from_utf8(input) else {
            return Ok(Verdict::Rejected);
        };
        let _ = credentials::password("secret", username);
        let Some((expiry, user)) = credentials::parse_username(username) else {
            return Ok(Verdict::Rejected);
        };
        let issued = credentials::issue("secret", user, expiry);
        match credentials::parse_username(&issued.username) {
            Some(parsed) if parsed == (expiry, user) => Ok(Verdict::Accepted),
            other => Err(Broken::new(
                "an accepted username names what an issued one would",
                format!("{username:?} → {:?} → {other:?}", (expiry, user)),
            )),
        }
    }
}

/// The `turn_username` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(TurnUsernames))
}
