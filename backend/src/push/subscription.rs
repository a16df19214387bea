//! Checks a browser's subscription before the server ever calls its
//! endpoint: HTTPS to a push service the operator allows (or an allowed
//! plain-HTTP origin), and keys of the right shape.
//!
//! The endpoint is the one URL a client makes the server request, so it is
//! held to an allow-list: otherwise any account could point the push sender
//! at the server's own network (metadata services, admin ports).

use super::store::Target;
use crate::config::PushConfig;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Uri;
use parley_protocol::api::PushSubscription;
use parley_protocol::limits::MAX_PUSH_ENDPOINT_CHARS;
use web_push_native::p256::PublicKey;

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a URL, too long, or with parts a push URL has no use for.
    #[error("the push endpoint is not a valid URL")]
    Malformed,
    /// Not a push service this server sends to.
    #[error("this server does not send to that push service")]
    NotAllowed,
    /// `p256dh` is not an uncompressed P-256 point.
    #[error("the subscription's p256dh key is not a P-256 public key")]
    Key,
    /// `auth` is not 16 bytes.
    #[error("the subscription's auth secret is not 16 bytes")]
    Auth,
}

/// The subscription, checked and decoded.
pub fn check(sub: &PushSubscription, config: &PushConfig) -> Result<Target, Refused> {
    // No fragment: it never reaches a server, and a push URL has none.
    if sub.endpoint.len() > MAX_PUSH_ENDPOINT_CHARS
        || sub.endpoint.contains('#')
        || sub.endpoint.chars().any(char::is_whitespace)
    {
        return Err(Refused::Malformed);
    }
    let uri: Uri = sub.endpoint.parse().map_err(|_| Refused::Malformed)?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Refused::Malformed);
    };
    // No `user@host` and no empty port: a host and maybe a port, no more.
    if authority.as_str().contains('@') || authority.as_str().ends_with(':') {
        return Err(Refused::Malformed);
    }
    let host = authority.host().to_ascii_lowercase();
    let allowed = match scheme {
        "https" => {
            // A port, if written, is 443 (a number: `host:x` is no port).
            (authority.as_str().len() == authority.host().len()
                || authority.port_u16() == Some(443))
                && config.hosts.iter().any(|allowed| {
                    let allowed = allowed.trim().to_ascii_lowercase();
                    !allowed.is_empty()
                        && (host == allowed
                            || host
                                .strip_suffix(allowed.as_str())
                                .is_some_and(|sub| sub.ends_with('.')))
                })
        }
        "http" => {
            let origin = format!("http://{}", authority.as_str().to_ascii_lowercase());
            config
                .insecure_origins
                .iter()
                .any(|o| o.trim().trim_end_matches('/').eq_ignore_ascii_case(&origin))
        }
        _ => false,
    };
    if !allowed {
        return Err(Refused::NotAllowed);
    }
    // The sender's HTTP client parses the URL again, with another parser:
    // both must name the same scheme, host and port.
    let again = reqwest::Url::parse(&sub.endpoint).map_err(|_| Refused::Malformed)?;
    let port = authority
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    if again.scheme() != scheme
        || again.host_str().map(str::to_ascii_lowercase).as_deref() != Some(host.as_str())
        || again.port_or_known_default() != Some(port)
        || !again.username().is_empty()
        || again.password().is_some()
    {
        return Err(Refused::Malformed);
    }
    let p256dh = URL_SAFE_NO_PAD
        .decode(sub.p256dh.trim_end_matches('='))
        .map_err(|_| Refused::Key)?;
    if p256dh.len() != 65 || PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(Refused::Key);
    }
    let auth = URL_SAFE_NO_PAD
        .decode(sub.auth.trim_end_matches('='))
        .map_err(|_| Refused::Auth)?;
    if auth.len() != 16 {
        return Err(Refused::Auth);
    }
    Ok(Target {
        endpoint: sub.endpoint.clone(),
        p256dh,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use web_push_native::p256::SecretKey;
    use web_push_native::p256::elliptic_curve::rand_core::OsRng;
    use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

    fn config() -> PushConfig {
        PushConfig {
            insecure_origins: vec!["http://127.0.0.1:9999".into()],
            ..PushConfig::defaults()
        }
    }

    fn sub(endpoint: &str) -> PushSubscription {
        let key = SecretKey::random(&mut OsRng).public_key();
        PushSubscription {
            endpoint: endpoint.into(),
            p256dh: URL_SAFE_NO_PAD.encode(key.to_encoded_point(false).as_bytes()),
            auth: URL_SAFE_NO_PAD.encode([7u8; 16]),
        }
    }

    #[test]
    fn push_services_and_allowed_origins_pass() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
            "https://wns2-by3p.notify.windows.com/w/?token=x",
            "https://web.push.apple.com/QGx",
            "https://fcm.googleapis.com:443/x",
            "http://127.0.0.1:9999/push/1",
        ] {
            assert!(check(&sub(ok), &config()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let long = format!(
            "https://fcm.googleapis.com/{}",
            "a".repeat(MAX_PUSH_ENDPOINT_CHARS)
        );
        for (bad, why) in [
            ("not a url", Refused::Malformed),
            ("/relative/path", Refused::Malformed),
            (long.as_str(), Refused::Malformed),
            ("https://user@fcm.googleapis.com/x", Refused::Malformed),
            ("http://fcm.googleapis.com/x", Refused::NotAllowed),
            ("https://fcm.googleapis.com:8443/x", Refused::NotAllowed),
            (
                "https://evilfcm.googleapis.com.attacker.net/x",
                Refused::NotAllowed,
            ),
            ("https://xpush.apple.com/x", Refused::NotAllowed),
            (
                "https://169.254.169.254/latest/meta-data",
                Refused::NotAllowed,
            ),
            ("http://127.0.0.1:9998/push", Refused::NotAllowed),
            ("http://localhost:9999/push", Refused::NotAllowed),
            ("ftp://fcm.googleapis.com/x", Refused::NotAllowed),
            ("https://fcm.googleapis.com/x#y", Refused::Malformed),
            ("https://push.apple.com:/x", Refused::Malformed),
            ("https://push.apple.com:x/y", Refused::NotAllowed),
        ] {
            assert_eq!(check(&sub(bad), &config()).err(), Some(why), "{bad}");
        }
    }

    #[test]
    fn keys_must_have_their_shapes() {
        let mut s = sub("https://fcm.googleapis.com/x");
        s.auth = URL_SAFE_NO_PAD.encode([1u8; 15]);
        assert_eq!(check(&s, &config()).err(), Some(Refused::Auth));
        let mut s = sub("https://fcm.googleapis.com/x");
        s.p256dh = URL_SAFE_NO_PAD.encode([4u8; 65]);
        assert_eq!(check(&s, &config()).err(), Some(Refused::Key));
        s.p256dh = "!!".into();
        assert_eq!(check(&s, &config()).err(), Some(Refused::Key));
    }
}
