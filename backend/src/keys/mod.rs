//! The public key directory: devices publish identity, one-time and fallback
//! keys; others fetch identities and claim one key per device to start an
//! Olm session. The server never sees a private key.

mod store;
pub mod verify;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::{mount, route};
use crate::state::AppState;
use actix_web::web;
use parley_protocol::api::{
    ClaimRequest, ClaimedKey, DeviceKeys, KeyCount, SignedKey, UploadKeys, fallback_key_message,
    identity_message, one_time_key_message,
};
use parley_protocol::endpoint::{ClaimKeys, CountKeys, Endpoint, PublishKeys, UserKeys};
use parley_protocol::limits::{
    MAX_DEVICES_PER_SEND, MAX_KEYS_BODY, MAX_KEYS_PER_UPLOAD, MAX_ONE_TIME_KEYS,
};
use parley_protocol::{DeviceId, UserId};
use store::{Identity, StoredKey};

/// Mounts key publishing, counting, claiming and the per-user directory.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Key uploads are larger than other bodies.
    cfg.service(
        web::resource(PublishKeys::PATH)
            .app_data(crate::routing::json_config(MAX_KEYS_BODY))
            .route(route::<PublishKeys>().to(upload)),
    );
    mount::<CountKeys, _, _>(cfg, count);
    mount::<ClaimKeys, _, _>(cfg, claim);
    mount::<UserKeys, _, _>(cfg, user_keys);
}

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

/// `PUT /keys`: identity on the first upload, then more one-time keys and a
/// new fallback key. Every key must be signed by the device's Ed25519 key.
async fn upload(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<UploadKeys>,
) -> ApiResult<web::Json<KeyCount>> {
    let body = body.into_inner();
    let device = caller.device_id;
    if body.one_time_keys.len() > MAX_KEYS_PER_UPLOAD {
        return Err(ApiError::PayloadTooLarge);
    }
    let offered = match &body.identity {
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
        .map_err(|_| ApiError::Internal("stored key has the wrong size".into()))?;

    let one_time: Vec<StoredKey> = body
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
    let fallback = body
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
        crate::devices::changed(&state, caller.user_id);
    }
    Ok(web::Json(KeyCount {
        one_time_keys: u32::try_from(unclaimed).unwrap_or(u32::MAX),
    }))
}

/// `GET /keys/count`: so the client knows when to top up.
async fn count(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<KeyCount>> {
    let n = store::count(&state.pool, caller.device_id).await?;
    Ok(web::Json(KeyCount {
        one_time_keys: u32::try_from(n).unwrap_or(u32::MAX),
    }))
}

/// `GET /users/{id}/keys`: the identities of a user's devices (for sessions
/// and safety numbers).
async fn user_keys(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<Vec<DeviceKeys>>> {
    let user = path.into_inner();
    if state.directory.devices(user).await?.is_none() {
        return Err(ApiError::NotFound("no such user"));
    }
    Ok(web::Json(store::user_devices(&state.pool, user).await?))
}

/// `POST /keys/claim`: one key per listed device; devices with nothing
/// published are left out of the answer.
async fn claim(
    _caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ClaimRequest>,
) -> ApiResult<web::Json<Vec<ClaimedKey>>> {
    let mut devices: Vec<DeviceId> = body.into_inner().devices;
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
    Ok(web::Json(claimed))
}
