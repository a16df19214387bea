//! Checks TURN requests against the REST credentials of [`credentials`]:
//! a username we did not issue, or one past its expiry, is refused before
//! any allocation, permission or refresh.

use crate::turn::credentials;
use crate::turn::relay::Allocating;
use std::net::SocketAddr;
use std::sync::Arc;
use turn::auth::{AuthHandler, generate_auth_key};

/// `turn`'s auth hook for Parley credentials.
#[derive(Debug)]
pub struct RestAuth {
    /// The shared secret of [`credentials::password`].
    pub secret: String,
    /// Told the account of each authenticated request (for the quota).
    pub allocating: Arc<Allocating>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let Some((expires_at, user)) = credentials::parse_username(username) else {
            tracing::debug!(%src_addr, "TURN request with a foreign username");
            return Err(turn::Error::ErrNoSuchUser);
        };
        if expires_at < credentials::unix_now() {
            tracing::debug!(%src_addr, %user, "TURN request with an expired credential");
            return Err(turn::Error::ErrNoSuchUser);
        }
        self.allocating.set(user);
        // `turn` checks the request's MESSAGE-INTEGRITY with this key: a wrong
        // password fails there.
        let password = credentials::password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}
