//! Normalisation and validation of user-entered fields, identical on both sides.

use crate::error::ErrorCode;
use crate::frame::DevicePayload;
use crate::limits::*;
use thiserror::Error;

/// A field that failed validation, with the code the server answers with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct FieldError {
    /// The protocol error code for this failure.
    pub code: ErrorCode,
    /// What is wrong, phrased for the person typing.
    pub message: String,
}

impl FieldError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Turns what a person typed into the canonical handle, or says why it is not one.
///
/// A handle is either a phone number in E.164 (`+` then 8 to 15 digits, spaces,
/// dashes, dots and brackets allowed while typing) or a username (3 to 32 of
/// `a-z 0-9 _ .`, starting with a letter, case-insensitive).
pub fn normalize_handle(input: &str) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if let Some(rest) = trimmed.strip_prefix('+') {
        let digits: String = rest
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        return if valid {
            Ok(format!("+{digits}"))
        } else {
            Err(FieldError::new(
                ErrorCode::InvalidHandle,
                "A phone number needs the country code: + then 8 to 15 digits.",
            ))
        };
    }
    let name = trimmed.to_lowercase();
    let len = name.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&len) {
        return Err(FieldError::new(
            ErrorCode::InvalidHandle,
            format!(
                "A username has {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters (or use a phone number starting with +)."
            ),
        ));
    }
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if !starts_with_letter || !rest_ok {
        return Err(FieldError::new(
            ErrorCode::InvalidHandle,
            "A username starts with a letter and uses only letters, digits, _ and .",
        ));
    }
    Ok(name)
}

/// Trims a display name and checks it: 1 to 64 characters, no control characters.
pub fn display_name(input: &str) -> Result<String, FieldError> {
    let name = input.trim();
    let len = name.chars().count();
    if len == 0 {
        return Err(FieldError::new(
            ErrorCode::InvalidDisplayName,
            "Enter your name.",
        ));
    }
    if len > DISPLAY_NAME_MAX_CHARS {
        return Err(FieldError::new(
            ErrorCode::InvalidDisplayName,
            format!("Names have at most {DISPLAY_NAME_MAX_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            ErrorCode::InvalidDisplayName,
            "Names cannot contain control characters.",
        ));
    }
    Ok(name.to_owned())
}

/// Trims an "about" text and checks it: at most 140 characters, no control characters.
pub fn about(input: &str) -> Result<String, FieldError> {
    let about = input.trim();
    if about.chars().count() > ABOUT_MAX_CHARS {
        return Err(FieldError::new(
            ErrorCode::InvalidAbout,
            format!("\"About\" has at most {ABOUT_MAX_CHARS} characters."),
        ));
    }
    if about.chars().any(char::is_control) {
        return Err(FieldError::new(
            ErrorCode::InvalidAbout,
            "\"About\" cannot contain control characters.",
        ));
    }
    Ok(about.to_owned())
}

/// Checks a new password's length. Passwords are never trimmed or normalised.
pub fn new_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            ErrorCode::InvalidPassword,
            format!("Use at least {PASSWORD_MIN_CHARS} characters."),
        ));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(FieldError::new(
            ErrorCode::InvalidPassword,
            format!("Use at most {PASSWORD_MAX_BYTES} characters."),
        ));
    }
    Ok(())
}

/// The password rule in a line, for the sign-up form to show before anyone types.
pub const PASSWORD_RULE: &str = "At least 8 characters, not a common password.";

/// Why the server refuses a password on its list of common and breached
/// passwords ([`ErrorCode::CommonPassword`]). The list stays on the server:
/// it is too large for the client to download.
pub const COMMON_PASSWORD_MESSAGE: &str =
    "This password is too common. Choose one that others would not guess.";

/// Refuses passwords that need no list to guess, case-insensitively: one
/// character or a group of up to four repeated (`aaaaaaaa`, `abababab`,
/// `123123123`), a run up or down (`12345678`, `hgfedcba`, `78901234`), and the
/// account's own handle (`handle` as typed or normalised; a phone number also
/// without its `+`). The server also checks its list of common passwords.
pub fn guessable_password(password: &str, handle: &str) -> Result<(), FieldError> {
    let lower: Vec<char> = password.to_lowercase().chars().collect();
    if is_repetition(&lower) || is_run(&lower) {
        return Err(FieldError::new(
            ErrorCode::CommonPassword,
            "This password is too easy to guess. Avoid repeated characters and runs like 12345678.",
        ));
    }
    let handle = normalize_handle(handle).unwrap_or_else(|_| handle.trim().to_lowercase());
    let lower: String = lower.into_iter().collect();
    let is_handle = !handle.is_empty()
        && (lower == handle
            || handle.strip_prefix('+') == Some(lower.as_str())
            || normalize_handle(password).is_ok_and(|p| p == handle));
    if is_handle {
        return Err(FieldError::new(
            ErrorCode::CommonPassword,
            "Your password can't be your phone number or username.",
        ));
    }
    Ok(())
}

/// One group of 1 to 4 characters, repeated (the last copy may be cut short).
fn is_repetition(chars: &[char]) -> bool {
    (1..=4).any(|group| {
        chars.len() > group
            && chars
                .iter()
                .enumerate()
                .all(|(i, c)| *c == chars[i % group])
    })
}

/// Each character one after the previous, or each one before it (digits wrap: `9` → `0`).
fn is_run(chars: &[char]) -> bool {
    let step = |a: char, b: char| -> i64 {
        match (a.to_digit(10), b.to_digit(10)) {
            (Some(a), Some(b)) => match (i64::from(b) - i64::from(a)).rem_euclid(10) {
                9 => -1,
                d => d,
            },
            _ => i64::from(u32::from(b)) - i64::from(u32::from(a)),
        }
    };
    let mut steps = chars.windows(2).map(|w| step(w[0], w[1]));
    match steps.next() {
        Some(first @ (1 | -1)) => steps.all(|s| s == first),
        _ => false,
    }
}

/// Cleans a device name: control characters dropped, trimmed, cut to the limit,
/// and a fallback when nothing is left. Never fails: a device name is a label.
pub fn device_name(input: Option<&str>) -> String {
    let cleaned: String = input
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(DEVICE_NAME_MAX_CHARS)
        .collect::<String>()
        // Cut may end in a space: trimmed again, so a name cleaned twice is
        // the same as once.
        .trim_end()
        .to_owned();
    if cleaned.is_empty() {
        "Unknown device".to_owned()
    } else {
        cleaned
    }
}

/// Checks the shape of a call signal's payloads: at least one, at most
/// [`MAX_DEVICES_PER_SEND`], each at most [`MAX_SIGNAL_BYTES`], no device twice.
/// Whether the devices belong to the right users is the server's to check.
pub fn signal_payloads(payloads: &[DevicePayload]) -> Result<(), FieldError> {
    if payloads.is_empty() {
        return Err(FieldError::new(
            ErrorCode::BadRequest,
            "a signal names no device",
        ));
    }
    if payloads.len() > MAX_DEVICES_PER_SEND {
        return Err(FieldError::new(
            ErrorCode::PayloadTooLarge,
            format!("a signal goes to at most {MAX_DEVICES_PER_SEND} devices"),
        ));
    }
    if payloads.iter().any(|p| p.body.len() > MAX_SIGNAL_BYTES) {
        return Err(FieldError::new(
            ErrorCode::PayloadTooLarge,
            format!("a signal payload has at most {MAX_SIGNAL_BYTES} bytes"),
        ));
    }
    let mut devices: Vec<_> = payloads.iter().map(|p| p.device).collect();
    devices.sort_unstable();
    if devices.windows(2).any(|w| w[0] == w[1]) {
        return Err(FieldError::new(
            ErrorCode::BadRequest,
            "a device is named twice",
        ));
    }
    Ok(())
}

/// What a signal costs against the sender's budget
/// ([`SIGNAL_BURST_UNITS`], [`SIGNAL_UNITS_PER_SECOND`]): one unit per started
/// KiB of its payloads, at least one.
pub fn signal_cost(payloads: &[DevicePayload]) -> u32 {
    let bytes: usize = payloads.iter().map(|p| p.body.len()).sum();
    u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised() {
        assert_eq!(
            normalize_handle(" +44 (20) 7946-0958 ").as_deref(),
            Ok("+442079460958")
        );
        assert!(normalize_handle("+0123456789").is_err());
        assert!(normalize_handle("+1234").is_err());
        assert!(normalize_handle("+1234567890123456").is_err());
        assert!(normalize_handle("+12345abc90").is_err());
    }

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(normalize_handle("  Alice_W ").as_deref(), Ok("alice_w"));
        assert!(normalize_handle("al").is_err());
        assert!(normalize_handle("1alice").is_err());
        assert!(normalize_handle("ali ce").is_err());
        assert!(normalize_handle("ålice").is_err());
        assert!(normalize_handle(&"a".repeat(33)).is_err());
    }

    #[test]
    fn display_names_are_bounded() {
        assert_eq!(display_name("  Ann  ").as_deref(), Ok("Ann"));
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(65)).is_err());
        assert!(display_name("a\u{0}b").is_err());
    }

    #[test]
    fn passwords_are_bounded_but_not_trimmed() {
        assert!(new_password("short").is_err());
        assert!(new_password("        ").is_ok());
        assert!(new_password(&"p".repeat(PASSWORD_MAX_BYTES + 1)).is_err());
    }

    #[test]
    fn guessable_passwords_are_refused_case_insensitively() {
        let code = |p: &str, h: &str| guessable_password(p, h).err().map(|e| e.code);
        for refused in [
            "aaaaaaaa",
            "AAAAAAAAAAAA",
            "abababab",
            "123123123",
            "abcdabcdab",
            "12345678",
            "ABCDEFGH",
            "hgfedcba",
            "98765432",
            "78901234",
        ] {
            assert_eq!(
                code(refused, "someone"),
                Some(ErrorCode::CommonPassword),
                "{refused}"
            );
        }
        assert_eq!(
            code("Alice_Wonder", "alice_wonder"),
            Some(ErrorCode::CommonPassword)
        );
        assert_eq!(
            code("alice_wonder", " Alice_Wonder "),
            Some(ErrorCode::CommonPassword)
        );
        assert_eq!(
            code("442079460958", "+442079460958"),
            Some(ErrorCode::CommonPassword)
        );
        assert_eq!(
            code("+44 20 7946 0958", "+442079460958"),
            Some(ErrorCode::CommonPassword)
        );
        for accepted in [
            "correct horse battery",
            "abcdefgz",
            "1234 5678",
            "aaaaaaab",
            "alice_wonderland",
        ] {
            assert_eq!(code(accepted, "alice_wonder"), None, "{accepted}");
        }
    }

    #[test]
    fn the_password_rule_names_the_minimum_length() {
        assert!(PASSWORD_RULE.contains(&format!("At least {PASSWORD_MIN_CHARS} characters")));
    }

    fn payload(device: u128, len: usize) -> DevicePayload {
        DevicePayload {
            device: crate::DeviceId::from_uuid(uuid::Uuid::from_u128(device)),
            body: vec![0; len],
        }
    }

    #[test]
    fn signal_payloads_are_bounded() {
        assert!(signal_payloads(&[payload(1, 10), payload(2, MAX_SIGNAL_BYTES)]).is_ok());
        let code = |p: &[DevicePayload]| signal_payloads(p).err().map(|e| e.code);
        assert_eq!(code(&[]), Some(ErrorCode::BadRequest));
        assert_eq!(
            code(&[payload(1, MAX_SIGNAL_BYTES + 1)]),
            Some(ErrorCode::PayloadTooLarge)
        );
        assert_eq!(
            code(&[payload(1, 1), payload(1, 2)]),
            Some(ErrorCode::BadRequest)
        );
        let many: Vec<_> = (0..=MAX_DEVICES_PER_SEND as u128)
            .map(|d| payload(d, 1))
            .collect();
        assert_eq!(code(&many), Some(ErrorCode::PayloadTooLarge));
    }

    #[test]
    fn signal_cost_counts_started_kib() {
        assert_eq!(signal_cost(&[]), 1);
        assert_eq!(signal_cost(&[payload(1, 200)]), 1);
        assert_eq!(signal_cost(&[payload(1, 1024), payload(2, 1)]), 2);
        assert_eq!(signal_cost(&[payload(1, MAX_SIGNAL_BYTES)]), 64);
    }

    #[test]
    fn device_names_never_fail() {
        assert_eq!(device_name(None), "Unknown device");
        assert_eq!(device_name(Some(" Chrome\n on Linux ")), "Chrome on Linux");
        assert_eq!(
            device_name(Some(&"d".repeat(100))).chars().count(),
            DEVICE_NAME_MAX_CHARS
        );
    }

    #[test]
    fn a_device_name_cut_at_a_space_is_cleaned_once_and_for_all() {
        let long = format!("{} tail", "x".repeat(DEVICE_NAME_MAX_CHARS - 1));
        let once = device_name(Some(&long));
        assert!(!once.ends_with(' '), "{once:?}");
        assert_eq!(device_name(Some(&once)), once);
    }
}
