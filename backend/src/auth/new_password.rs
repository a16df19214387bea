//! What a new password must be (NIST SP 800-63B): long enough, nothing
//! guessable without a list (the shared rules the client also checks), and
//! not on the list of common and breached passwords, which only the server
//! holds (`backend/data/common-passwords.txt`, see the README there).

use parley_protocol::ErrorCode;
use parley_protocol::validate::{self, COMMON_PASSWORD_MESSAGE, FieldError};
use std::sync::LazyLock;

/// The list as shipped: `#` comment lines, then one lowercase password a line.
const LIST: &str = include_str!("../../data/common-passwords.txt");

/// The list as a sorted slice of views into [`LIST`]: about 18,000 entries,
/// 16 bytes each (a hash set would take about twice that).
static COMMON: LazyLock<Box<[&'static str]>> = LazyLock::new(|| {
    let mut entries: Vec<&str> = LIST
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    // The file is sorted already; sorting again costs a millisecond once and
    // keeps a hand-edited file from silently missing entries.
    entries.sort_unstable();
    entries.dedup();
    entries.into_boxed_slice()
});

/// Whether `password` is on the list, ignoring case.
pub fn is_common(password: &str) -> bool {
    COMMON
        .binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

/// Checks a password chosen for the account `handle` (normalised): the length
/// rule, the guessable shapes and the handle itself, then the list. Each
/// refusal is a field error on the password.
pub fn check(password: &str, handle: &str) -> Result<(), FieldError> {
    validate::new_password(password)?;
    validate::guessable_password(password, handle)?;
    if is_common(password) {
        return Err(FieldError {
            code: ErrorCode::CommonPassword,
            message: COMMON_PASSWORD_MESSAGE.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::limits::PASSWORD_MIN_CHARS;

    #[test]
    fn the_list_file_is_lowercase_long_enough_sorted_and_unique() {
        let entries: Vec<&str> = LIST.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(entries.len() > 10_000, "{}", entries.len());
        assert!(
            entries.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        for entry in &entries {
            assert_eq!(*entry, entry.to_lowercase());
            assert!(entry.chars().count() >= PASSWORD_MIN_CHARS, "{entry:?}");
        }
        assert_eq!(COMMON.len(), entries.len());
    }

    #[test]
    fn common_passwords_are_found_whatever_their_case() {
        for common in [
            "password",
            "PassWord",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
        ] {
            assert!(is_common(common), "{common}");
        }
        assert!(!is_common("correct horse battery"));
        assert!(!is_common(""));
    }

    #[test]
    fn each_refusal_is_a_common_password_error_and_short_stays_invalid() {
        let code = |p: &str| check(p, "alice").err().map(|e| e.code);
        for refused in [
            "password",
            "12345678",
            "aaaaaaaa",
            "QWERTYUIOP",
            "iloveyou1",
        ] {
            assert_eq!(code(refused), Some(ErrorCode::CommonPassword), "{refused}");
        }
        assert_eq!(
            check("Password", "alice").err().map(|e| e.message),
            Some(COMMON_PASSWORD_MESSAGE.to_owned())
        );
        assert_eq!(code("short"), Some(ErrorCode::InvalidPassword));
        assert_eq!(code("ALICE"), Some(ErrorCode::InvalidPassword));
        assert_eq!(
            check("alice_liddell", "alice_liddell")
                .err()
                .map(|e| e.code),
            Some(ErrorCode::CommonPassword)
        );
        assert_eq!(code("pale violet kettle drum"), None);
    }
}
