//! Log set-up: what the operator sees by default.

use tracing_subscriber::EnvFilter;

/// Info for the server. actix-http's WebSocket codec and HTTP/1 dispatcher
/// log malformed client input (an unfinished fragment, an unparsable
/// request) at error level, which would let any client flood the operator's
/// error log; those targets are off (the server answers such input with a
/// close code or a 400 itself). `RUST_LOG` replaces the whole filter: add
/// `actix_http::ws::codec=off,actix_http::h1=off` to it to keep them out.
pub const DEFAULT_FILTER: &str = "info,actix_http::ws::codec=off,actix_http::h1=off";

/// The filter from `RUST_LOG`, else [`DEFAULT_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Logs to stderr through [`filter`].
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut out) = self.0.lock() {
                out.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_mistakes_logged_by_actix_http_stay_out_of_the_default_log() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(DEFAULT_FILTER))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::ws::codec", "Unfinished fragment Ping");
            tracing::error!(target: "actix_http::h1::dispatcher", "request parse error");
            tracing::error!(target: "parley_server::server", "a real problem");
            tracing::info!(target: "parley_server::server", "listening");
        });
        let text = captured
            .0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        assert!(!text.contains("Unfinished fragment"), "{text}");
        assert!(!text.contains("request parse error"), "{text}");
        assert!(
            text.contains("a real problem") && text.contains("listening"),
            "{text}"
        );
    }
}
