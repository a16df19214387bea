//! JSON bodies of the REST API, both ways, picked by the first byte: the
//! requests the server parses, with the field checks it applies
//! (`parley_protocol::validate`), and the answers the browser parses. Nothing
//! may panic; a body re-serialises to JSON that parses the same; a
//! normalised handle, name or "about" is a fixed point of its normalisation
//! (the client checks a field, the server checks it again, and stored
//! handles are compared in normal form) and stays within its limits.

use crate::engine::{Broken, Target, Verdict};
use parley_protocol::api::{
    ClaimRequest, Contact, Device, IceConfig, IceServer, KeyCount, LastSeenVisibility, LookupQuery,
    PhotoVersion, Profile, RegisterRequest, Session, SignInRequest, UpdateProfile, UserCard,
    Visibility,
};
use parley_protocol::limits::{
    ABOUT_MAX_CHARS, DEVICE_NAME_MAX_CHARS, DISPLAY_NAME_MAX_CHARS, USERNAME_MAX_CHARS,
};
use parley_protocol::validate;
use parley_protocol::{DeviceId, ErrorBody, ErrorCode, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use uuid::Uuid;

/// Body kinds, by the input's first byte (modulo their count).
const KINDS: u8 = 13;

struct RestBodies;

/// Parses `json` as `T`; if it parses, checks the JSON round trip.
fn parse<T>(json: &[u8]) -> Result<Option<T>, Broken>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(json) else {
        return Ok(None);
    };
    let again = serde_json::to_vec(&value)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_slice::<T>(&text).map_err(|e| e.to_string()));
    match again {
        Ok(again) if again == value => Ok(Some(value)),
        other => Err(Broken::new(
            "a body re-serialises to JSON that parses the same",
            format!("{value:?} came back as {other:?}"),
        )),
    }
}

fn fixed_point(
    field: &'static str,
    normalise: impl Fn(&str) -> Result<String, validate::FieldError>,
    input: &str,
    max_chars: usize,
) -> Result<(), Broken> {
    let Ok(once) = normalise(input) else {
        return Ok(());
    };
    let twice = normalise(&once);
    if twice.as_ref() != Ok(&once) {
        return Err(Broken::new(
            "a normalised field is a fixed point",
            format!("{field}: {input:?} → {once:?} → {twice:?}"),
        ));
    }
    if once.chars().count() > max_chars || once.chars().any(char::is_control) {
        return Err(Broken::new(
            "a normalised field is within its limits",
            format!("{field}: {input:?} → {once:?}"),
        ));
    }
    Ok(())
}

fn handle(input: &str) -> Result<(), Broken> {
    fixed_point(
        "handle",
        validate::normalize_handle,
        input,
        USERNAME_MAX_CHARS,
    )?;
    match validate::normalize_handle(input) {
        Ok(handle) if !handle.is_ascii() => Err(Broken::new(
            "a normalised handle is ASCII",
            format!("{input:?} → {handle:?}"),
        )),
        _ => Ok(()),
    }
}

fn display_name(input: &str) -> Result<(), Broken> {
    fixed_point(
        "display name",
        validate::display_name,
        input,
        DISPLAY_NAME_MAX_CHARS,
    )
}

fn about(input: &str) -> Result<(), Broken> {
    fixed_point("about", validate::about, input, ABOUT_MAX_CHARS)
}

fn device_name(input: Option<&str>) -> Result<(), Broken> {
    fixed_point(
        "device name",
        |name| Ok(validate::device_name(Some(name))),
        &validate::device_name(input),
        DEVICE_NAME_MAX_CHARS,
    )
}

fn seeds() -> Result<Vec<Vec<u8>>, serde_json::Error> {
    let raw = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
    let (id, device) = (UserId::from_uuid(raw), DeviceId::from_uuid(raw));
    let profile = Profile {
        user_id: id,
        handle: "+442079460958".into(),
        display_name: "Ann".into(),
        about: "hi".into(),
        read_receipts: false,
        last_seen: LastSeenVisibility::Contacts,
        photo: Some(PhotoVersion::new("0123456789abcdef0123456789abcdef")),
        photo_visibility: Visibility::Nobody,
    };
    let card = UserCard {
        user_id: id,
        handle: "alice_w".into(),
        display_name: "Alice W".into(),
        about: String::new(),
        photo: None,
    };
    let bodies = [
        serde_json::to_vec(&RegisterRequest {
            handle: " +44 (20) 7946-0958 ".into(),
            display_name: "  Ann ".into(),
            password: "correct horse".into(),
            device_name: Some("Chrome on Linux".into()),
        })?,
        serde_json::to_vec(&SignInRequest {
            handle: "  Alice_W ".into(),
            password: "correct horse".into(),
            device_name: None,
        })?,
        serde_json::to_vec(&UpdateProfile {
            display_name: Some("Ann Lee".into()),
            about: Some("away".into()),
            read_receipts: Some(true),
            last_seen: Some(LastSeenVisibility::Nobody),
            photo_visibility: Some(Visibility::Contacts),
        })?,
        serde_json::to_vec(&LookupQuery {
            handle: "bob.smith".into(),
        })?,
        serde_json::to_vec(&ClaimRequest {
            devices: vec![device, device],
        })?,
        serde_json::to_vec(&Session {
            token: "t".repeat(43),
            device_id: device,
            profile: profile.clone(),
        })?,
        serde_json::to_vec(&profile)?,
        serde_json::to_vec(&vec![Device {
            device_id: device,
            name: "Firefox on Windows".into(),
            created_at: 1_700_000_000_000,
            last_active_at: 1_700_000_000_001,
            current: true,
        }])?,
        serde_json::to_vec(&card)?,
        serde_json::to_vec(&vec![Contact {
            user: card,
            added_at: 5,
        }])?,
        serde_json::to_vec(&IceConfig {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:192.0.2.1:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turn:192.0.2.1:3478?transport=udp".into()],
                    username: Some(format!("1700000000:{id}")),
                    credential: Some("7/zfauXrL6LSdBbV8YTfnCWafHk=".into()),
                },
            ],
            ttl_secs: 3_600,
        })?,
        serde_json::to_vec(&ErrorBody {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            retry_after_secs: Some(3),
        })?,
        serde_json::to_vec(&KeyCount { one_time_keys: 50 })?,
    ];
    Ok(bodies
        .into_iter()
        .zip(0..)
        .map(|(body, kind)| {
            let mut input = vec![kind];
            input.extend(body);
            input
        })
        .collect())
}

impl Target for RestBodies {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        seeds().unwrap_or_default()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"null",
            b"+",
            b" ",
            b"\\u0000",
            b"\\u0085",
            b"\\u00a0",
            b"\\u2028",
            b"\\u3000",
            b"\\u0130",
            b"\\u212a",
            b"\\ud83d\\udc4b",
            b"\\t",
            b"\xc3\xa5",
            b"\xe1\x9a\x80",
            b"\"contacts\"",
            b"\"busy\"",
            // As long as the limits, to land characters right at them.
            b"abcdefghijklmnopqrstuvwxyz012345",
            b"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&kind, json)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        let parsed = match kind % KINDS {
            0 => parse::<RegisterRequest>(json)?.map(|body| {
                handle(&body.handle)?;
                display_name(&body.display_name)?;
                let _ = validate::new_password(&body.password);
                let _ = validate::guessable_password(&body.password, &body.handle);
                device_name(body.device_name.as_deref())
            }),
            1 => parse::<SignInRequest>(json)?.map(|body| {
                handle(&body.handle)?;
                device_name(body.device_name.as_deref())
            }),
            2 => parse::<UpdateProfile>(json)?.map(|body| {
                body.display_name.as_deref().map_or(Ok(()), display_name)?;
                body.about.as_deref().map_or(Ok(()), about)
            }),
            3 => parse::<LookupQuery>(json)?.map(|query| handle(&query.handle)),
            4 => parse::<ClaimRequest>(json)?.map(|_| Ok(())),
            5 => parse::<Session>(json)?.map(|_| Ok(())),
            6 => parse::<Profile>(json)?.map(|profile| {
                let _ = LastSeenVisibility::parse(profile.last_seen.as_str());
                let _ = Visibility::parse(profile.photo_visibility.as_str());
                Ok(())
            }),
            7 => parse::<Vec<Device>>(json)?.map(|_| Ok(())),
            8 => parse::<UserCard>(json)?.map(|_| Ok(())),
            9 => parse::<Vec<Contact>>(json)?.map(|_| Ok(())),
            10 => parse::<IceConfig>(json)?.map(|_| Ok(())),
            11 => parse::<ErrorBody>(json)?.map(|body| {
                let _ = (body.code.http_status(), body.code.as_str());
                Ok(())
            }),
            _ => parse::<KeyCount>(json)?.map(|_| Ok(())),
        };
        match parsed {
            Some(checked) => checked.map(|()| Verdict::Accepted),
            None => Ok(Verdict::Rejected),
        }
    }
}

/// The `rest_bodies` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(RestBodies))
}
