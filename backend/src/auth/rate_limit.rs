//! Rate limits on sign-in, sign-up, user look-up, profile photo changes and
//! block changes (GCRA via `governor`).
//!
//! Sign-in attempts are limited per address, per (handle, address), and per
//! handle; the per-handle limit only applies to browsers that have not signed
//! in to that account before, so guessing from many addresses cannot lock the
//! owner out of their usual browser (docs/architecture.md, "Sign-in limits").
//!
//! Keys are attacker-chosen (handles, IPs), so the maps are pruned of idle keys
//! every minute: memory stays proportional to recent traffic.

use crate::config::Config;
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_protocol::{DeviceId, UserId};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

/// One sign-in or sign-up attempt a limiter let through, as the other nodes
/// charge it to theirs: a client cannot multiply its attempts by the number
/// of nodes behind the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Attempt {
    /// From this address.
    Ip(IpAddr),
    /// For this handle from this address.
    HandleFrom(String, IpAddr),
    /// For this handle from a browser new to it.
    HandleUnknownBrowser(String),
}

/// Where attempts go to be counted elsewhere (the other nodes).
pub trait Share: Send + Sync + std::fmt::Debug {
    /// An attempt this node let through.
    fn attempt(&self, attempt: Attempt);
}

/// All limiters of the server.
#[derive(Debug)]
pub struct RateLimits {
    /// Set once, when the node joins a cluster.
    shared: OnceLock<Arc<dyn Share>>,
    auth_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    auth_by_handle: DefaultKeyedRateLimiter<String>,
    auth_by_handle_ip: DefaultKeyedRateLimiter<(String, IpAddr)>,
    lookup_by_user: DefaultKeyedRateLimiter<UserId>,
    photo_by_user: DefaultKeyedRateLimiter<UserId>,
    block_by_user: DefaultKeyedRateLimiter<UserId>,
    group_by_user: DefaultKeyedRateLimiter<UserId>,
    notification_by_user: DefaultKeyedRateLimiter<UserId>,
    pending_by_device: DefaultKeyedRateLimiter<DeviceId>,
    pending_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    blob_by_user: DefaultKeyedRateLimiter<UserId>,
    chunks_by_device: DefaultKeyedRateLimiter<DeviceId>,
}

/// The key an address is limited under: IPv4 as it is, IPv6 by its /64 (one
/// host usually holds a whole /64, so a /128 key would be free to rotate).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
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
            shared: OnceLock::new(),
            auth_by_ip: RateLimiter::keyed(per_minute(config.auth_ip_per_minute)),
            auth_by_handle: RateLimiter::keyed(per_minute(config.auth_handle_per_minute)),
            auth_by_handle_ip: RateLimiter::keyed(per_minute(config.auth_handle_per_minute)),
            lookup_by_user: RateLimiter::keyed(per_minute(config.lookup_per_minute)),
            photo_by_user: RateLimiter::keyed(per_minute(config.photo_changes_per_minute)),
            blob_by_user: RateLimiter::keyed(per_minute(config.blobs.uploads_per_minute)),
            chunks_by_device: RateLimiter::keyed(per_minute(config.blobs.chunks_per_minute)),
            block_by_user: RateLimiter::keyed(per_minute(config.block_changes_per_minute)),
            group_by_user: RateLimiter::keyed(per_minute(config.group_changes_per_minute)),
            notification_by_user: RateLimiter::keyed(per_minute(config.push.changes_per_minute)),
            pending_by_device: RateLimiter::keyed(per_minute(config.push.fetches_per_minute)),
            // Many devices share an address (a home, an office): ten times
            // one device's reads, checked before the capability is looked up.
            pending_by_ip: RateLimiter::keyed(per_minute(
                config
                    .push
                    .fetches_per_minute
                    .saturating_mul(NonZeroU32::MIN.saturating_add(9)),
            )),
        }
    }

    /// Tells `shared` of every sign-in attempt let through here; only the
    /// first one set counts.
    pub fn join(&self, shared: Arc<dyn Share>) {
        let _ = self.shared.set(shared);
    }

    /// Checks an attempt and, once let through, tells the other nodes.
    fn auth(&self, attempt: Attempt) -> Result<(), ApiError> {
        self.charge(&attempt)?;
        if let Some(shared) = self.shared.get() {
            shared.attempt(attempt);
        }
        Ok(())
    }

    fn charge(&self, attempt: &Attempt) -> Result<(), ApiError> {
        match attempt {
            Attempt::Ip(ip) => check(&self.auth_by_ip, ip),
            Attempt::HandleFrom(handle, ip) => {
                check(&self.auth_by_handle_ip, &(handle.clone(), *ip))
            }
            Attempt::HandleUnknownBrowser(handle) => check(&self.auth_by_handle, handle),
        }
    }

    /// An attempt another node let through: it uses this node's quota too
    /// (already spent, it is not refused).
    pub fn remote_attempt(&self, attempt: &Attempt) {
        let _ = self.charge(attempt);
    }

    /// One sign-in or sign-up attempt from this address.
    pub fn auth_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.auth(Attempt::Ip(ip))
    }

    /// One sign-in or sign-up attempt for this (normalised) handle from this address.
    pub fn auth_handle_from(&self, handle: &str, ip: IpAddr) -> Result<(), ApiError> {
        self.auth(Attempt::HandleFrom(handle.to_owned(), ip))
    }

    /// One sign-in attempt for this (normalised) handle from a browser that
    /// has not signed in to it before.
    pub fn auth_handle_unknown_browser(&self, handle: &str) -> Result<(), ApiError> {
        self.auth(Attempt::HandleUnknownBrowser(handle.to_owned()))
    }

    /// One user look-up by this account.
    pub fn lookup(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.lookup_by_user, &user)
    }

    /// One profile photo change (set or remove) by this account.
    pub fn photo_change(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.photo_by_user, &user)
    }

    /// One attachment upload started by this account.
    pub fn blob_upload(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.blob_by_user, &user)
    }

    /// One chunk of an attachment written or read by this device.
    pub fn blob_chunk(&self, device: DeviceId) -> Result<(), ApiError> {
        check(&self.chunks_by_device, &device)
    }

    /// One block change (block or unblock) by this account.
    pub fn block_change(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.block_by_user, &user)
    }

    /// One group created or changed by this account.
    pub fn group_change(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.group_by_user, &user)
    }

    /// One notification setting change or push subscription by this account.
    pub fn notification_change(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.notification_by_user, &user)
    }

    /// One attempt, from this address, to read a queue with a capability.
    pub fn pending_from(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.pending_by_ip, &ip)
    }

    /// One read of this device's queue by its service worker.
    pub fn pending_read(&self, device: DeviceId) -> Result<(), ApiError> {
        check(&self.pending_by_device, &device)
    }

    /// Forgets keys whose quota has fully recovered.
    pub fn prune(&self) {
        self.auth_by_ip.retain_recent();
        self.auth_by_handle.retain_recent();
        self.auth_by_handle_ip.retain_recent();
        self.lookup_by_user.retain_recent();
        self.photo_by_user.retain_recent();
        self.block_by_user.retain_recent();
        self.group_by_user.retain_recent();
        self.notification_by_user.retain_recent();
        self.pending_by_device.retain_recent();
        self.pending_by_ip.retain_recent();
        self.blob_by_user.retain_recent();
        self.chunks_by_device.retain_recent();
        self.auth_by_ip.shrink_to_fit();
        self.auth_by_handle.shrink_to_fit();
        self.auth_by_handle_ip.shrink_to_fit();
        self.lookup_by_user.shrink_to_fit();
        self.photo_by_user.shrink_to_fit();
        self.block_by_user.shrink_to_fit();
        self.group_by_user.shrink_to_fit();
        self.notification_by_user.shrink_to_fit();
        self.pending_by_device.shrink_to_fit();
        self.pending_by_ip.shrink_to_fit();
        self.blob_by_user.shrink_to_fit();
        self.chunks_by_device.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let other: IpAddr = "2001:db8:1:3::1"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:198.51.100.7"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            address_key(mapped),
            "198.51.100.7".parse::<IpAddr>().unwrap_or(mapped)
        );
        let v4: IpAddr = "198.51.100.7".parse().unwrap_or(mapped);
        assert_eq!(address_key(v4), v4);
    }
}
