//! The one binary encoding: a format version byte, then postcard.
//!
//! WebSocket frames, message content and call signals all use it, each with
//! its own version. Decoding is strict: a wrong version, a body postcard
//! rejects and bytes left over after the value are all errors, since any of
//! them means the two sides disagree on the layout.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value that postcard could not serialise.
///
/// Our own types cannot produce it (no maps, no sequences of unknown
/// length); it means a type was changed into one postcard cannot write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("could not encode: {0}")]
pub struct EncodeError(#[source] pub postcard::Error);

/// Bytes that are not a value of the expected format version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// No version byte.
    #[error("empty")]
    Empty,
    /// A version this side does not speak.
    #[error("unsupported version {found}")]
    Version {
        /// The version byte received.
        found: u8,
    },
    /// The body is not a valid value.
    #[error("malformed: {0}")]
    Malformed(#[source] postcard::Error),
    /// A valid value followed by more bytes.
    #[error("{count} trailing bytes")]
    Trailing {
        /// How many bytes were left over.
        count: usize,
    },
}

/// Encodes `value` after the `version` byte.
pub fn encode<T: Serialize + ?Sized>(version: u8, value: &T) -> Result<Vec<u8>, EncodeError> {
    postcard::to_extend(value, vec![version]).map_err(EncodeError)
}

/// Decodes a value written by [`encode`] with `version`.
pub fn decode<'a, T: Deserialize<'a>>(version: u8, bytes: &'a [u8]) -> Result<T, DecodeError> {
    let (&found, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if found != version {
        return Err(DecodeError::Version { found });
    }
    match postcard::take_from_bytes::<T>(body).map_err(DecodeError::Malformed)? {
        (value, []) => Ok(value),
        (_, rest) => Err(DecodeError::Trailing { count: rest.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_the_version_in_front() {
        let bytes = encode(3, &(7u8, "hi")).unwrap();
        assert_eq!(bytes, [3, 7, 2, b'h', b'i']);
        assert_eq!(decode::<(u8, &str)>(3, &bytes), Ok((7, "hi")));
    }

    #[test]
    fn every_kind_of_bad_input_is_told_apart() {
        assert_eq!(decode::<u8>(1, &[]), Err(DecodeError::Empty));
        assert_eq!(
            decode::<u8>(1, &[2, 0]),
            Err(DecodeError::Version { found: 2 })
        );
        assert_eq!(
            decode::<bool>(1, &[1, 9]),
            Err(DecodeError::Malformed(postcard::Error::DeserializeBadBool))
        );
        assert_eq!(
            decode::<u8>(1, &[1]),
            Err(DecodeError::Malformed(
                postcard::Error::DeserializeUnexpectedEnd
            ))
        );
        assert_eq!(
            decode::<u8>(1, &[1, 5, 0, 0]),
            Err(DecodeError::Trailing { count: 2 })
        );
    }

    #[test]
    fn encoding_errors_are_returned() {
        struct Refused;
        impl Serialize for Refused {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("refused"))
            }
        }
        assert_eq!(
            encode(1, &Refused),
            Err(EncodeError(postcard::Error::SerdeSerCustom))
        );
    }
}
