//! The address a request comes from, as rate limits key it: the TCP peer,
//! or, when the peer is a trusted proxy (a load balancer in front of
//! several nodes), the address that proxy appended to `X-Forwarded-For`.
//! Only the last entry is taken: earlier ones are whatever the client sent.

use super::rate_limit::address_key;
use actix_web::http::header::HeaderMap;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// An address or a network (`10.0.0.7`, `10.42.0.0/16`, `fd00::/8`): where
/// trusted proxies are (a load balancer's pods have addresses from a range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in it.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (s, None),
        };
        let base: IpAddr = ip.trim().parse().map_err(|e| format!("`{s}`: {e}"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix must be 0 to {max}"))?,
        };
        Ok(Self { base, prefix })
    }
}

/// The client's address (see the module), keyed like every limit is.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Network]) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if !trusted.iter().any(|net| net.contains(peer)) {
        return address_key(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .last()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    address_key(forwarded.unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in forwarded {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn net(s: &str) -> Network {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_and_only_its_own_entry_counts() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = [net("10.0.0.2")];
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let said = headers(&["198.51.100.1, 203.0.113.9"]);
        assert_eq!(client_ip(Some(proxy), &said, &trusted), client);
        assert_eq!(client_ip(Some(proxy), &said, &[net("10.0.0.0/8")]), client);
        // Anyone else's header is ignored: the peer is the client.
        assert_eq!(client_ip(Some(client), &said, &trusted), client);
        assert_eq!(client_ip(Some(proxy), &said, &[]), proxy);
        assert_eq!(client_ip(Some(proxy), &said, &[net("10.1.0.0/16")]), proxy);
        // A trusted proxy that added nothing readable: the proxy.
        assert_eq!(client_ip(Some(proxy), &headers(&["junk"]), &trusted), proxy);
        assert_eq!(client_ip(Some(proxy), &headers(&[]), &trusted), proxy);
        // IPv6 clients by their /64, as everywhere.
        let v6 = headers(&["2001:db8:1:2:3:4:5:6"]);
        assert_eq!(
            client_ip(Some(proxy), &v6, &trusted),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn networks_parse_and_match() {
        assert!(net("0.0.0.0/0").contains("198.51.100.1".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!net("fd00::/8").contains("10.0.0.1".parse().unwrap()));
        assert!(net("::/0").contains("2001:db8::1".parse().unwrap()));
        assert!(!net("192.168.1.0/24").contains("192.168.2.1".parse().unwrap()));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/x",
            "nope",
            "10.0.0.0/",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }
}
