//! `PUT /push/subscription` bodies through the server's checks
//! (`push::subscription::check`): the endpoint is the one URL a client makes
//! the server request, so nothing may panic, and a subscription accepted
//! must name an allowed push service over HTTPS (or the one allowed plain
//! origin), carry a P-256 point and a 16-byte secret, and be accepted again
//! as stored. Also the push payload the service worker parses.

use crate::engine::{Broken, Target, Verdict};
use parley_protocol::api::{PushNotice, PushSubscription};
use parley_server::config::PushConfig;
use parley_server::push::subscription::check;

const INSECURE: &str = "http://127.0.0.1:9999";

struct Subscriptions {
    config: PushConfig,
}

impl Target for Subscriptions {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let key = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";
        [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
            "https://web.push.apple.com/QGx",
            "http://127.0.0.1:9999/push/1",
        ]
        .into_iter()
        .filter_map(|endpoint| {
            serde_json::to_vec(&PushSubscription {
                endpoint: endpoint.into(),
                p256dh: key.into(),
                auth: "AAECAwQFBgcICQoLDA0ODw".into(),
            })
            .ok()
        })
        .chain([br#"{"user":"01920000-0000-7000-8000-000000000001","device":"01920000-0000-7000-8000-000000000001","chats":[{"chat":{"Direct":"01920000-0000-7000-8000-000000000001"},"count":3}],"others":0}"#.to_vec()])
        .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"https://",
            b"http://",
            b"@",
            b":443",
            b":8443",
            b"fcm.googleapis.com",
            b".notify.windows.com",
            b"push.apple.com.evil",
            b"127.0.0.1:9999",
            b"%2F",
            b"\\u0000",
            b"====",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        // The service worker's side: a notice parses or not, never panics.
        let _ = serde_json::from_slice::<PushNotice>(input);
        let Ok(sub) = serde_json::from_slice::<PushSubscription>(input) else {
            return Ok(Verdict::Rejected);
        };
        let Ok(target) = check(&sub, &self.config) else {
            return Ok(Verdict::Rejected);
        };
        let endpoint = &target.endpoint;
        // Schemes are case-insensitive (`HTTPS://` is https).
        let lower = endpoint.to_ascii_lowercase();
        let allowed_https = lower
            .strip_prefix("https://")
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .is_some_and(|authority| {
                let host = authority
                    .strip_suffix(":443")
                    .unwrap_or(authority)
                    .to_ascii_lowercase();
                !authority.contains('@')
                    && self
                        .config
                        .hosts
                        .iter()
                        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
            });
        let allowed_http = endpoint
            .to_ascii_lowercase()
            .strip_prefix(INSECURE)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'));
        if !(allowed_https || allowed_http) {
            return Err(Broken::new(
                "an accepted endpoint names an allowed push service",
                format!("{endpoint:?}"),
            ));
        }
        if target.p256dh.len() != 65 || target.auth.len() != 16 {
            return Err(Broken::new(
                "accepted keys have their sizes",
                format!("{} / {}", target.p256dh.len(), target.auth.len()),
            ));
        }
        if check(&sub, &self.config).ok().as_ref().map(|t| &t.endpoint) != Some(endpoint) {
            return Err(Broken::new(
                "the check is deterministic",
                format!("{sub:?}"),
            ));
        }
        Ok(Verdict::Accepted)
    }
}

/// The `push_subscription` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(Subscriptions {
        config: PushConfig {
            insecure_origins: vec![INSECURE.into()],
            ..PushConfig::defaults()
        },
    }))
}
