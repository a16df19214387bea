//! Publishing and claiming keys: every key checked against the device's
//! Ed25519 identity before it is stored, and a device's first identity
//! published as the moment it counts for senders.

use super::store::{self, Identity, StoredKey};
use super::verify;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::state::AppState;
use parley_protocol::api::{
    ClaimedKey, DeviceKeys, SignedKey, UploadKeys, fallback_key_message, identity_message,
    one_time_key_message,
};
use parley_protocol::limits::{MAX_DEVICES_PER_SEND, MAX_KEYS_PER_UPLOAD, MAX_ONE_TIME_KEYS};
use parley_protocol::{DeviceId, UserId};

fn verified(ed25519: &[u8; 32], key: &SignedKey, message: &str) -> ApiResult<StoredKey> {
    verify::key_id(&key.key_id)?;
    let public = verify::key(&key.key)?;
    let signature = verify::signature(&key.signature)?;
    verify::signed(ed25519, message, &signature)?;
    Ok(StoredKey {
        key_id: key.key_id.clone(),
        key: public.to_vec(),
        signature: signature.to_vec(),
    })
}

/// Stores `upload` for `device` of `user`: its identity on the first upload,
/// then more one-time keys and a new fallback key. Returns how many one-time
/// keys are unclaimed now.
pub async fn upload(
    state: &AppState,
    user: UserId,
    device: DeviceId,
    upload: UploadKeys,
) -> ApiResult<i64> {
    if upload.one_time_keys.len() > MAX_KEYS_PER_UPLOAD {
        return Err(ApiError::PayloadTooLarge);
    }
    let offered = match &upload.identity {
        Some(id) => {
            let curve25519 = verify::key(&id.curve25519)?;
            let ed25519 = verify::key(&id.ed25519)?;
            let signature = verify::signature(&id.signature)?;
            verify::signed(
                &ed25519,
                &identity_message(device, &id.curve25519),
                &signature,
            )?;
            Some(Identity {
                curve25519: curve25519.to_vec(),
                ed25519: ed25519.to_vec(),
                signature: signature.to_vec(),
            })
        }
        None => None,
    };

    let mut tx = state.pool.begin().await?;
    let mut published = false;
    let identity = match (store::identity_for_update(&mut tx, device).await?, offered) {
        (Some(stored), Some(offered)) if stored != offered => return Err(store::identity_changed()),
        (Some(stored), _) => stored,
        (None, Some(offered)) => {
            store::insert_identity(&mut *tx, device, &offered).await?;
            published = true;
            offered
        }
        (None, None) => return Err(ApiError::BadRequest("upload identity keys first".into())),
    };
    let ed25519: [u8; 32] = identity
        .ed25519
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::Internal("stored key has the wrong size"))?;

    let one_time: Vec<StoredKey> = upload
        .one_time_keys
        .iter()
        .map(|k| {
            verified(
                &ed25519,
                k,
                &one_time_key_message(device, &k.key_id, &k.key),
            )
        })
        .collect::<ApiResult<_>>()?;
    let fallback = upload
        .fallback_key
        .as_ref()
        .map(|k| {
            verified(
                &ed25519,
                k,
                &fallback_key_message(device, &k.key_id, &k.key),
            )
        })
        .transpose()?;

    let unclaimed = store::add_one_time_keys(&mut tx, device, &one_time).await?;
    if unclaimed > i64::from(MAX_ONE_TIME_KEYS) {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_ONE_TIME_KEYS} unclaimed one-time keys per device"
        )));
    }
    if let Some(fallback) = fallback {
        store::set_fallback(&mut *tx, device, &fallback).await?;
    }
    tx.commit().await?;
    if published {
        // From now on senders must encrypt for this device too.
        state
            .events
            .publish(Event::DevicesChanged { user })
            .settled()
            .await?;
    }
    Ok(unclaimed)
}

/// The identities of `user`'s devices (for sessions and safety numbers);
/// `None` when there is no such user.
pub async fn user_keys(state: &AppState, user: UserId) -> ApiResult<Option<Vec<DeviceKeys>>> {
    if state.directory.devices(user).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(store::user_devices(&state.pool, user).await?))
}

/// One key per listed device; devices with nothing published are left out.
pub async fn claim(state: &AppState, mut devices: Vec<DeviceId>) -> ApiResult<Vec<ClaimedKey>> {
    if devices.len() > MAX_DEVICES_PER_SEND {
        return Err(ApiError::PayloadTooLarge);
    }
    devices.sort_unstable();
    devices.dedup();
    let mut claimed = Vec::with_capacity(devices.len());
    for device in devices {
        if let Some((device, key, fallback)) = store::claim(&state.pool, device).await? {
            claimed.push(ClaimedKey {
                device,
                key,
                fallback,
            });
        }
    }
    Ok(claimed)
}
