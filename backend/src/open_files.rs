//! Every socket is a file descriptor, and the usual soft limit (1,024) is
//! far below what one server holds; the hard limit is what the operator
//! allows, so the server takes all of it at start.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard one; logs the result.
pub fn raise() {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::info!(from = soft, to = hard, "raised the open-file limit"),
            Err(e) => tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit"),
        },
        Ok((soft, _)) => tracing::info!(limit = soft, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not read the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        raise();
        let limits = getrlimit(Resource::RLIMIT_NOFILE);
        assert!(
            matches!(limits, Ok((soft, hard)) if soft == hard),
            "{limits:?}"
        );
    }
}
