//! Rate limits on sign-in, sign-up and user look-up (GCRA via `governor`).
//!
//! Keys are attacker-chosen (handles, IPs), so the maps are pruned of idle keys
//! every minute: memory stays proportional to recent traffic.

use crate::config::Config;
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_protocol::UserId;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// All limiters of the server.
#[derive(Debug)]
pub struct RateLimits {
    auth_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    auth_by_handle: DefaultKeyedRateLimiter<String>,
    lookup_by_user: DefaultKeyedRateLimiter<UserId>,
}

fn per_minute(n: NonZeroU32) -> Quota {
    Quota::per_minute(n)
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        ApiError::RateLimited(not_until.wait_time_from(DefaultClock::default().now()))
    })
}

impl RateLimits {
    /// Limiters with the configured quotas.
    pub fn new(config: &Config) -> Self {
        Self {
            auth_by_ip: RateLimiter::keyed(per_minute(config.auth_ip_per_minute)),
            auth_by_handle: RateLimiter::keyed(per_minute(config.auth_handle_per_minute)),
            lookup_by_user: RateLimiter::keyed(per_minute(config.lookup_per_minute)),
        }
    }

    /// One sign-in or sign-up attempt from this address.
    pub fn auth_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.auth_by_ip, &ip)
    }

    /// One sign-in or sign-up attempt for this (normalised) handle.
    pub fn auth_handle(&self, handle: &str) -> Result<(), ApiError> {
        check(&self.auth_by_handle, &handle.to_owned())
    }

    /// One user look-up by this account.
    pub fn lookup(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.lookup_by_user, &user)
    }

    /// Forgets keys whose quota has fully recovered.
    pub fn prune(&self) {
        self.auth_by_ip.retain_recent();
        self.auth_by_handle.retain_recent();
        self.lookup_by_user.retain_recent();
        self.auth_by_ip.shrink_to_fit();
        self.auth_by_handle.shrink_to_fit();
        self.lookup_by_user.shrink_to_fit();
    }
}
