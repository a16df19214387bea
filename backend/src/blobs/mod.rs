//! Encrypted attachments: the browser encrypts a file with a fresh key in
//! chunks and uploads the ciphertext here as an opaque blob; the key, the
//! ciphertext's hash, the name and type travel inside the end-to-end
//! encrypted message. The server learns a blob's size and who may read it.
//!
//! - Only the uploading device writes chunks, grants readers or cancels.
//! - Readers are the devices the uploader names (those it sent the message
//!   to) and the uploader's own account; anyone else gets 404, alike for
//!   a blob that does not exist.
//! - A chunk is held in memory once, at most [`BLOB_CHUNK_BYTES`], on its
//!   way to the store; reads stream from the store.
//! - A blob is deleted once every reader said it holds it, or at the end
//!   of the retention period (`--retention-days`), whichever comes first.

pub mod records;
pub mod store;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::{bounded_body, json_config, mount, route};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use parley_protocol::api::{BlobReaders, BlobUpload, NewBlob};
use parley_protocol::endpoint::{
    BlobChunk, BlobFetched, BlobStatus, CancelBlob, CreateBlob, Endpoint, GrantBlob,
    GrantBlobToGroup, PutBlobChunk,
};
use parley_protocol::limits::{BLOB_CHUNK_BYTES, MAX_BLOB_READERS, MAX_BLOB_READERS_PER_GRANT};
use parley_protocol::{BlobId, DeviceId, GroupId};
use std::time::Duration;
use store::NoTurn;

/// A grant of [`MAX_BLOB_READERS_PER_GRANT`] device ids in JSON, with room.
const MAX_GRANT_BODY: usize = MAX_BLOB_READERS_PER_GRANT * 48 + 256;

/// Mounts the blob endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<CreateBlob, _, _>(cfg, create);
    mount::<BlobStatus, _, _>(cfg, status);
    mount::<CancelBlob, _, _>(cfg, cancel);
    mount::<PutBlobChunk, _, _>(cfg, put_chunk);
    mount::<BlobChunk, _, _>(cfg, chunk);
    mount::<BlobFetched, _, _>(cfg, fetched);
    mount::<GrantBlobToGroup, _, _>(cfg, grant_group);
    // A grant names many devices: a larger body than other requests.
    cfg.service(
        web::resource(GrantBlob::PATH)
            .app_data(json_config(MAX_GRANT_BODY))
            .route(route::<GrantBlob>().to(grant)),
    );
}

/// Chunks of a blob of `size` bytes.
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(u64::from(BLOB_CHUNK_BYTES))
}

/// Bytes in chunk `index` of a blob of `size` bytes (`index` in range).
pub fn chunk_len(size: u64, index: u32) -> u64 {
    let start = u64::from(index) * u64::from(BLOB_CHUNK_BYTES);
    size.saturating_sub(start).min(u64::from(BLOB_CHUNK_BYTES))
}

fn retention(state: &AppState) -> Duration {
    Duration::from_secs(u64::from(state.config.retention_days) * 86_400)
}

fn upload_view(blob: BlobId, upload: &records::Upload) -> BlobUpload {
    BlobUpload {
        blob_id: blob,
        size: u64::try_from(upload.size).unwrap_or(0),
        chunk_bytes: BLOB_CHUNK_BYTES,
        chunks: u32::try_from(upload.chunks).unwrap_or(0),
        missing: upload.missing(),
        complete: upload.complete,
    }
}

const NO_UPLOAD: ApiError = ApiError::NotFound("no such upload");
const NO_BLOB: ApiError = ApiError::NotFound("no such attachment");

/// `POST /blobs`.
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewBlob>,
) -> ApiResult<HttpResponse> {
    let size = body.size;
    let max = state.config.blobs.max_bytes();
    if size == 0 {
        return Err(ApiError::BadRequest(
            "an attachment has at least one byte".into(),
        ));
    }
    if size > max {
        return Err(ApiError::TooLarge(format!(
            "attachments are limited to {} MiB",
            max >> 20
        )));
    }
    state.limits.blob_upload(caller.user_id)?;
    let chunks = u32::try_from(chunk_count(size))
        .map_err(|_| ApiError::TooLarge("attachment too large".into()))?;
    let blob = BlobId::from_uuid(uuid::Uuid::new_v4());
    let quota = state.config.blobs.quota_bytes();
    let created = records::create(
        &state.pool,
        blob,
        caller.user_id,
        caller.device_id,
        size,
        chunks,
        retention(&state),
        quota,
    )
    .await?;
    if !created {
        return Err(ApiError::LimitReached(
            "your attachments waiting to be fetched fill your storage quota; \
             try again once recipients have downloaded them",
        ));
    }
    Ok(HttpResponse::Created().json(BlobUpload {
        blob_id: blob,
        size,
        chunk_bytes: BLOB_CHUNK_BYTES,
        chunks,
        missing: (0..chunks).collect(),
        complete: false,
    }))
}

/// `GET /blobs/{blob_id}`: the uploader's view, to resume.
async fn status(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<BlobId>,
) -> ApiResult<web::Json<BlobUpload>> {
    let blob = path.into_inner();
    let upload = records::upload(&state.pool, blob, caller.device_id)
        .await?
        .ok_or(NO_UPLOAD)?;
    Ok(web::Json(upload_view(blob, &upload)))
}

/// `PUT /blobs/{blob_id}/chunks/{index}`.
async fn put_chunk(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(BlobId, u32)>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let (blob, index) = path.into_inner();
    // Before the body is read: a refused chunk costs no upload.
    state.limits.blob_chunk(caller.device_id)?;
    let upload = records::upload(&state.pool, blob, caller.device_id)
        .await?
        .ok_or(NO_UPLOAD)?;
    let size = u64::try_from(upload.size).unwrap_or(0);
    if i64::from(index) >= i64::from(upload.chunks) {
        return Err(ApiError::BadRequest(format!(
            "no chunk {index}: this upload has {} chunks",
            upload.chunks
        )));
    }
    let expected = chunk_len(size, index);
    // Chunks held in memory at once are bounded node-wide, per device and
    // per account, and a body has a deadline (`--blob-chunk-seconds`): a device
    // sending slowly holds a buffer no longer than that.
    let _turn = state
        .blobs
        .room(caller.device_id, caller.user_id)
        .await
        .map_err(|e| match e {
            NoTurn::Crowded | NoTurn::Full => ApiError::Busy(Duration::from_secs(1)),
            NoTurn::Closed => ApiError::Internal("blob buffers closed"),
        })?;
    let read = bounded_body(&req, body, usize::try_from(expected).unwrap_or(0));
    let deadline = state.config.blobs.chunk_seconds.get();
    let bytes = tokio::time::timeout(Duration::from_secs(u64::from(deadline)), read)
        .await
        .map_err(|_| ApiError::TooSlow(deadline))??;
    if upload.complete {
        // A chunk sent again after its upload completed (the answer to the
        // last one lost on the way): stored already, and nothing changes.
        // Its body was read so the connection stays usable for the
        // client's next request.
        return Ok(HttpResponse::NoContent().finish());
    }
    if bytes.len() as u64 != expected {
        return Err(ApiError::BadRequest(format!(
            "chunk {index} has {expected} bytes, not {}",
            bytes.len()
        )));
    }
    state.blobs.put_chunk(blob, index, bytes).await?;
    let marked = records::mark_received(
        &state.pool,
        blob,
        caller.device_id,
        index,
        retention(&state),
    )
    .await?;
    if marked.is_some() {
        return Ok(HttpResponse::NoContent().finish());
    }
    // Not an incomplete upload any more. Completed meanwhile by another
    // request for the same chunks (a retry): stored, as above. Cancelled,
    // expired or deleted meanwhile: the copy just written is nobody's.
    match records::upload(&state.pool, blob, caller.device_id).await? {
        Some(upload) if upload.complete => Ok(HttpResponse::NoContent().finish()),
        _ => {
            if let Err(e) = state.blobs.remove_chunk(blob, index).await {
                tracing::warn!(%blob, error = %e, "a chunk of a cancelled upload is left");
            }
            Err(NO_UPLOAD)
        }
    }
}

/// `POST /blobs/{blob_id}/readers`: devices named, and the current devices
/// of people named (the uploading device is never its own reader: it
/// would never say it fetched the blob).
async fn grant(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<BlobId>,
    body: web::Json<BlobReaders>,
) -> ApiResult<HttpResponse> {
    let blob = path.into_inner();
    let BlobReaders { mut devices, users } = body.into_inner();
    if devices.len() + users.len() > MAX_BLOB_READERS_PER_GRANT {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_BLOB_READERS_PER_GRANT} devices and people per request"
        )));
    }
    // Before the people's devices are looked up.
    records::upload(&state.pool, blob, caller.device_id)
        .await?
        .ok_or(NO_UPLOAD)?;
    if !users.is_empty() {
        devices.extend(records::devices_of(&state.pool, &users, caller.device_id).await?);
    }
    add_readers(&state, caller, blob, devices).await
}

/// `POST /blobs/{blob_id}/readers/group/{group_id}`: every current device of
/// the group's members but the calling one, the devices a group message
/// sent now reaches. Resolved now, not when a device downloads: each of
/// them says when it fetched the blob (so it is deleted once all have), and
/// a member who leaves later keeps what was sent while they were in.
async fn grant_group(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(BlobId, GroupId)>,
) -> ApiResult<HttpResponse> {
    let (blob, group) = path.into_inner();
    let upload = records::upload(&state.pool, blob, caller.device_id)
        .await?
        .ok_or(NO_UPLOAD)?;
    // Not told apart from a group the caller is not in.
    let members = state
        .groups
        .members(group)
        .await?
        .ok_or(ApiError::Forbidden("you are not in this group"))?;
    members.may_send(caller.user_id)?;
    if upload.readers > 0 {
        // Granted already (a retry, or a resumed upload): a blob goes to one
        // group once, and a member repeating this costs one query.
        return Ok(HttpResponse::NoContent().finish());
    }
    let devices: Vec<DeviceId> = state
        .groups
        .member_devices(&members)
        .await?
        .into_iter()
        .flat_map(|u| u.devices)
        .filter(|d| *d != caller.device_id)
        .collect();
    add_readers(&state, caller, blob, devices).await
}

/// Grants `devices` reading `blob`, within the bound.
async fn add_readers(
    state: &AppState,
    caller: Caller,
    blob: BlobId,
    mut devices: Vec<DeviceId>,
) -> ApiResult<HttpResponse> {
    devices.sort_unstable();
    devices.dedup();
    use records::Granted;
    match records::grant(
        &state.pool,
        blob,
        caller.device_id,
        &devices,
        MAX_BLOB_READERS,
    )
    .await?
    {
        Granted::Done => Ok(HttpResponse::NoContent().finish()),
        Granted::NoBlob => Err(NO_UPLOAD),
        Granted::TooMany => Err(ApiError::LimitReached(
            "an attachment can be shared with at most 8,192 devices",
        )),
    }
}

/// `GET /blobs/{blob_id}/chunks/{index}`: streamed from the store.
async fn chunk(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(BlobId, u32)>,
) -> ApiResult<HttpResponse> {
    let (blob, index) = path.into_inner();
    state.limits.blob_chunk(caller.device_id)?;
    let readable = records::readable(&state.pool, blob, caller.device_id, caller.user_id)
        .await?
        .ok_or(NO_BLOB)?;
    if !readable.complete {
        return Err(ApiError::Conflict(
            "this attachment is still being uploaded",
        ));
    }
    if i64::from(index) >= i64::from(readable.chunks) {
        return Err(ApiError::NotFound("no such chunk"));
    }
    let (len, stream) = state
        .blobs
        .chunk(blob, index)
        .await?
        .ok_or(ApiError::Internal("a chunk of a complete blob is missing"))?;
    let stream = stream.map_err(|e| {
        tracing::warn!(error = %e, "reading a blob chunk failed");
        actix_web::error::ErrorInternalServerError("read failed")
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CONTENT_DISPOSITION, "attachment"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .insert_header(("Cross-Origin-Resource-Policy", "same-origin"))
        // Ciphertext the client keeps (decrypted) itself: no second copy
        // in the HTTP cache.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Ciphertext does not compress: not worth the gzip middleware's time.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .no_chunking(len)
        .streaming(stream))
}

/// `POST /blobs/{blob_id}/fetched`.
async fn fetched(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<BlobId>,
) -> ApiResult<HttpResponse> {
    let blob = path.into_inner();
    if records::readable(&state.pool, blob, caller.device_id, caller.user_id)
        .await?
        .is_none()
    {
        return Err(NO_BLOB);
    }
    if let Some(chunks) = records::fetched(&state.pool, blob, caller.device_id).await? {
        purge(&state, blob, chunks).await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /blobs/{blob_id}`.
async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<BlobId>,
) -> ApiResult<HttpResponse> {
    let blob = path.into_inner();
    let chunks = records::doom(&state.pool, blob, caller.device_id)
        .await?
        .ok_or(NO_UPLOAD)?;
    purge(&state, blob, chunks).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a doomed blob's chunks, then its row. A failure leaves the row
/// doomed for the sweep ([`sweep`]) to finish.
async fn purge(state: &AppState, blob: BlobId, chunks: i32) {
    let chunks = u32::try_from(chunks).unwrap_or(0);
    let removed = match state.blobs.remove(blob, chunks).await {
        Ok(()) => records::forget(&state.pool, blob)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    if let Err(e) = removed {
        tracing::warn!(%blob, error = %e, "deleting a blob failed; the sweep retries");
    }
}

/// Deletes blobs past their retention and doomed ones left behind; the
/// number deleted.
pub async fn sweep(state: &AppState) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 256;
    let mut deleted = 0;
    loop {
        let due = records::expired(&state.pool, BATCH).await?;
        let last = due.len() < BATCH as usize;
        for (blob, chunks) in due {
            let chunks_u32 = u32::try_from(chunks).unwrap_or(0);
            match state.blobs.remove(blob, chunks_u32).await {
                Ok(()) => {
                    records::forget(&state.pool, blob).await?;
                    deleted += 1;
                }
                // The store is unwell: the next round tries again.
                Err(e) => {
                    tracing::warn!(%blob, error = %e, "deleting an expired blob failed");
                    return Ok(deleted);
                }
            }
        }
        if last {
            return Ok(deleted);
        }
    }
}
