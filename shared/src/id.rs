//! Typed identifiers, so a device id cannot be passed where a user id is
//! expected.
//!
//! Each is a UUID underneath and is encoded exactly like one: 16 bytes in
//! postcard, a hyphenated string in JSON, a `uuid` column in PostgreSQL
//! (with the `sqlx` feature).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Unwraps the UUID.
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// The UUID's hyphenated form.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::from_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifier of a user account.
    UserId
);
uuid_id!(
    /// Identifier of a device (one signed-in browser).
    DeviceId
);
uuid_id!(
    /// Identifier of an encrypted attachment's blob on the server. The server
    /// makes it from 122 random bits (UUID v4), so it cannot be guessed; who
    /// may read it is decided by grants all the same.
    BlobId
);
uuid_id!(
    /// Identifier of a message, chosen by the sending client.
    MessageId
);
uuid_id!(
    /// Identifier of a group chat.
    GroupId
);

/// A chat: one person, or a group.
///
/// Written `d:<uuid>` for a direct chat and `g:<uuid>` for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConversationId {
    /// A chat with one person (oneself, for notes to self).
    Direct(UserId),
    /// A group chat.
    Group(GroupId),
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct(user) => write!(f, "d:{user}"),
            Self::Group(group) => write!(f, "g:{group}"),
        }
    }
}

/// A string that is not a [`ConversationId`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseConversationIdError {
    /// Neither `d:` nor `g:` in front.
    #[error("a conversation id starts with `d:` or `g:`")]
    Kind,
    /// The part after the prefix is not a UUID.
    #[error("invalid conversation id: {0}")]
    Uuid(#[from] uuid::Error),
}

impl FromStr for ConversationId {
    type Err = ParseConversationIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(user) = s.strip_prefix("d:") {
            Ok(Self::Direct(user.parse()?))
        } else if let Some(group) = s.strip_prefix("g:") {
            Ok(Self::Group(group.parse()?))
        } else {
            Err(ParseConversationIdError::Kind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_a11c);

    #[test]
    fn encodes_exactly_like_a_uuid() {
        let id = UserId::from_uuid(RAW);
        // Postcard: a length, then the 16 bytes, as for the bare Uuid.
        let mut wire = vec![16];
        wire.extend_from_slice(RAW.as_bytes());
        assert_eq!(postcard::to_allocvec(&RAW).unwrap(), wire);
        assert_eq!(postcard::to_allocvec(&id).unwrap(), wire);
        // JSON (and IndexedDB through serde): the hyphenated string.
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"01920000-0000-7000-8000-00000000a11c\""
        );
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&RAW).unwrap()
        );
        // And back, from what a Uuid wrote.
        let bytes = postcard::to_allocvec(&RAW).unwrap();
        assert_eq!(
            postcard::from_bytes::<DeviceId>(&bytes)
                .unwrap()
                .into_uuid(),
            RAW
        );
        let json = serde_json::to_string(&RAW).unwrap();
        assert_eq!(
            serde_json::from_str::<MessageId>(&json)
                .unwrap()
                .into_uuid(),
            RAW
        );
    }

    #[test]
    fn display_and_parse_match_the_uuid() {
        let id = DeviceId::from_uuid(RAW);
        assert_eq!(id.to_string(), RAW.to_string());
        assert_eq!(id.to_string().parse::<DeviceId>(), Ok(id));
        assert!("not-a-uuid".parse::<DeviceId>().is_err());
    }

    #[test]
    fn conversation_id_round_trips_through_text() {
        let direct = ConversationId::Direct(UserId::from_uuid(RAW));
        let group = ConversationId::Group(GroupId::from_uuid(RAW));
        assert_eq!(direct.to_string(), "d:01920000-0000-7000-8000-00000000a11c");
        assert_eq!(group.to_string(), "g:01920000-0000-7000-8000-00000000a11c");
        assert_eq!(direct.to_string().parse(), Ok(direct));
        assert_eq!(group.to_string().parse(), Ok(group));
        assert_ne!(direct, group);
    }

    #[test]
    fn malformed_conversation_ids_are_errors() {
        let uuid = RAW.to_string();
        for bad in [
            String::new(),
            uuid.clone(),
            format!("x:{uuid}"),
            format!("D:{uuid}"),
            format!("d{uuid}"),
            "d:".to_owned(),
            "g:not-a-uuid".to_owned(),
            format!("d:{uuid}x"),
        ] {
            assert!(bad.parse::<ConversationId>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            format!("x:{uuid}").parse::<ConversationId>(),
            Err(ParseConversationIdError::Kind)
        );
        assert!(matches!(
            "g:nope".parse::<ConversationId>(),
            Err(ParseConversationIdError::Uuid(_))
        ));
    }
}
