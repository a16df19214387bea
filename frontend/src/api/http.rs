//! The one place that talks `fetch`: JSON in, JSON out, errors sorted into
//! [`ApiFailure`] variants.

use super::failure::{ApiFailure, body_for_status};
use parley_protocol::ErrorBody;
use parley_protocol::endpoint::{self, Endpoint, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Blob, Headers, RequestCache, RequestInit, Response};

/// A request that has not answered by then is treated as a network failure:
/// a hung server must not leave a spinner forever.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The same for a chunk of an attachment, whose megabyte may take the
/// server's whole deadline for a body (60 s) on a slow line.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(90);

/// Calls endpoint `E` with `params` filled into its path and `body` as JSON,
/// and decodes the JSON answer. A 204 (empty body) decodes as `()`.
pub(super) async fn call<E>(
    token: Option<&str>,
    params: &E::Params,
    body: Option<&E::Request>,
) -> Result<E::Response, ApiFailure>
where
    E: Endpoint,
    E::Request: Serialize,
    E::Response: DeserializeOwned,
{
    let body = match body {
        Some(body) => {
            Some(serde_json::to_string(body).map_err(|err| ApiFailure::Invalid(err.to_string()))?)
        }
        None => None,
    };
    let body = body.map(|b| (JsValue::from_str(&b), "application/json"));
    let text = text_of(
        exchange(
            E::METHOD,
            &endpoint::url::<E>(params),
            token,
            body,
            Fresh::Always,
            TIMEOUT,
        )
        .await?,
    )
    .await?;
    // An empty body reads as JSON `null`, which is exactly what `()` accepts.
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|err| ApiFailure::Invalid(err.to_string()))
}

/// Sends an image (`PUT /me/photo`) and decodes the JSON answer.
pub(super) async fn upload<E>(
    token: &str,
    params: &E::Params,
    image: &Blob,
    content_type: &str,
) -> Result<E::Response, ApiFailure>
where
    E: Endpoint,
    E::Response: DeserializeOwned,
{
    let body = Some((JsValue::from(image.clone()), content_type));
    let url = endpoint::url::<E>(params);
    let text = text_of(exchange(E::METHOD, &url, Some(token), body, Fresh::Always, TIMEOUT).await?)
        .await?;
    serde_json::from_str(&text).map_err(|err| ApiFailure::Invalid(err.to_string()))
}

/// Fetches an image (a profile photo). Its URL names its version, so the
/// HTTP cache may keep it.
pub(super) async fn download<E: Endpoint>(
    token: &str,
    params: &E::Params,
) -> Result<Blob, ApiFailure> {
    let url = endpoint::url::<E>(params);
    let response = exchange(
        E::METHOD,
        &url,
        Some(token),
        None,
        Fresh::Cacheable,
        TIMEOUT,
    )
    .await?;
    let promise = response.blob().map_err(|_| ApiFailure::Network)?;
    JsFuture::from(promise)
        .await
        .map_err(|_| ApiFailure::Network)?
        .dyn_into()
        .map_err(|_| ApiFailure::Invalid("blob() returned a non-Blob".to_owned()))
}

/// Sends raw bytes (a chunk of an attachment's ciphertext); the answer is
/// empty.
pub(super) async fn put_bytes<E: Endpoint>(
    token: &str,
    params: &E::Params,
    bytes: &JsValue,
) -> Result<(), ApiFailure> {
    let url = endpoint::url::<E>(params);
    let body = Some((bytes.clone(), "application/octet-stream"));
    exchange(
        E::METHOD,
        &url,
        Some(token),
        body,
        Fresh::Always,
        CHUNK_TIMEOUT,
    )
    .await?;
    Ok(())
}

/// Fetches raw bytes (a chunk of an attachment's ciphertext).
pub(super) async fn get_bytes<E: Endpoint>(
    token: &str,
    params: &E::Params,
) -> Result<js_sys::ArrayBuffer, ApiFailure> {
    let url = endpoint::url::<E>(params);
    let response = exchange(
        E::METHOD,
        &url,
        Some(token),
        None,
        Fresh::Always,
        CHUNK_TIMEOUT,
    )
    .await?;
    let promise = response.array_buffer().map_err(|_| ApiFailure::Network)?;
    JsFuture::from(promise)
        .await
        .map_err(|_| ApiFailure::Network)?
        .dyn_into()
        .map_err(|_| ApiFailure::Invalid("arrayBuffer() returned something else".to_owned()))
}

/// Whether the HTTP cache may answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Per-user answers that change constantly: never replayed.
    Always,
    /// Versioned URLs (photos).
    Cacheable,
}

/// The body of a 2xx answer as text.
async fn text_of(response: Response) -> Result<String, ApiFailure> {
    let text_promise = response.text().map_err(|_| ApiFailure::Network)?;
    // A connection dropped mid-body is a network failure too.
    Ok(JsFuture::from(text_promise)
        .await
        .map_err(|_| ApiFailure::Network)?
        .as_string()
        .unwrap_or_default())
}

/// Performs the fetch with a timeout; returns a 2xx answer, or the error it carries.
async fn exchange(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<(JsValue, &str)>,
    fresh: Fresh,
    timeout: Duration,
) -> Result<Response, ApiFailure> {
    let headers = Headers::new().map_err(|_| ApiFailure::Network)?;
    let accept = if fresh == Fresh::Cacheable {
        "image/*"
    } else {
        "application/json"
    };
    let mut header_result = headers.set("Accept", accept);
    if let Some(token) = token {
        header_result = header_result.and(headers.set("Authorization", &format!("Bearer {token}")));
    }
    let init = RequestInit::new();
    init.set_method(method.as_str());
    if fresh == Fresh::Always {
        // Answers are per-user and change constantly: never let the HTTP
        // cache (or an over-eager proxy) replay one.
        init.set_cache(RequestCache::NoStore);
    }
    if let Some((body, content_type)) = &body {
        header_result = header_result.and(headers.set("Content-Type", content_type));
        init.set_body(body);
    }
    header_result.map_err(|err| ApiFailure::Invalid(format!("{err:?}")))?;
    init.set_headers(&headers);

    let controller = AbortController::new().ok();
    if let Some(controller) = &controller {
        init.set_signal(Some(&controller.signal()));
    }
    // `scope`'s timer: the service worker has no window (nor Leptos' timers).
    #[allow(clippy::cast_possible_truncation)]
    let timer = controller.clone().and_then(|controller| {
        crate::scope::set_timeout(move || controller.abort(), timeout.as_millis() as i32)
    });

    let outcome = fetch(url, &init).await;
    if let Some(timer) = timer {
        timer.clear();
    }
    let (status, ok, retry_after, response) = outcome?;
    if ok {
        return Ok(response);
    }
    let text = text_of(response).await?;
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(mut body) => {
            if body.retry_after_secs.is_none() {
                body.retry_after_secs = retry_after;
            }
            Err(ApiFailure::Server { status, body })
        }
        // Not our server speaking: a gateway with the backend down is, for
        // the person using the app, the same as being offline.
        Err(_) if (502..=504).contains(&status) => Err(ApiFailure::Network),
        Err(_) => Err(ApiFailure::Server {
            status,
            body: body_for_status(status, retry_after),
        }),
    }
}

/// Status, success flag, `Retry-After` (seconds form only) and the response.
async fn fetch(
    url: &str,
    init: &RequestInit,
) -> Result<(u16, bool, Option<u64>, Response), ApiFailure> {
    let promise = crate::scope::fetch(url, init).map_err(|_| ApiFailure::Network)?;
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|_| ApiFailure::Network)?
        .dyn_into()
        .map_err(|_| ApiFailure::Invalid("fetch returned a non-Response".to_owned()))?;
    let retry_after = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|value| value.trim().parse::<u64>().ok());
    Ok((response.status(), response.ok(), retry_after, response))
}
