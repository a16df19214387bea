//! How many sockets each address holds open before they authenticate.
//!
//! A socket costs a file descriptor from its handshake until its `Auth`
//! frame arrives (10 s at most). Without a bound, one address opening
//! thousands of sockets and never authenticating exhausts the server's
//! descriptors for everybody; with it, that address alone is refused.

use dashmap::DashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// Unauthenticated sockets per address.
#[derive(Debug, Default)]
pub struct Admission {
    pending: DashMap<IpAddr, usize>,
}

/// One admitted socket still authenticating; dropping it frees its place.
#[derive(Debug)]
pub struct Pending {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// A place for one more socket from `ip`, unless it already holds `cap`.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, cap: NonZeroUsize) -> Option<Pending> {
        let mut count = self.pending.entry(ip).or_default();
        if *count >= cap.get() {
            return None;
        }
        *count += 1;
        Some(Pending {
            admission: self.clone(),
            ip,
        })
    }

    /// Sockets from `ip` still authenticating.
    pub fn pending(&self, ip: IpAddr) -> usize {
        self.pending.get(&ip).map_or(0, |c| *c)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // The entry goes once its count is zero: the map holds only
        // addresses with a socket in flight.
        if let Some(mut count) = self.admission.pending.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
        }
        self.admission.pending.remove_if(&self.ip, |_, c| *c == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn an_address_is_refused_past_its_cap_and_admitted_again_as_sockets_leave() {
        let admission = Arc::new(Admission::default());
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let two = NonZeroUsize::MIN.saturating_add(1);
        let first = admission.admit(a, two);
        let second = admission.admit(a, two);
        assert!(first.is_some() && second.is_some());
        assert!(admission.admit(a, two).is_none(), "third from a is refused");
        assert!(admission.admit(b, two).is_some(), "another address is not");
        drop(first);
        assert_eq!(admission.pending(a), 1);
        assert!(admission.admit(a, two).is_some());
        drop(second);
        assert_eq!(admission.pending(a), 0);
        assert!(admission.pending.is_empty(), "no entry left behind");
    }
}
