//! The address a request comes from, as rate limits key it: the TCP peer,
//! or, when the peer is a trusted proxy (a load balancer in front of
//! several nodes), the address that proxy appended to `X-Forwarded-For`.
//! Only the last entry is taken: earlier ones are whatever the client sent.

use super::network::Network;
use super::rate_limit::address_key;
use actix_web::http::header::HeaderMap;
use std::net::{IpAddr, Ipv4Addr};

/// The client's address (see the module), keyed like every limit is.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Network]) -> IpAddr {
    let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
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
        // An IPv4 proxy seen on an IPv6 listener is the same proxy.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(client_ip(Some(mapped), &said, &trusted), client);
        // IPv6 clients by their /64, as everywhere.
        let v6 = headers(&["2001:db8:1:2:3:4:5:6"]);
        assert_eq!(
            client_ip(Some(proxy), &v6, &trusted),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }
}
