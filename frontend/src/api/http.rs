//! The one place that talks `fetch`: JSON in, JSON out, errors sorted into
//! [`ApiFailure`] variants.

use super::failure::{ApiFailure, body_for_status};
use leptos::prelude::set_timeout_with_handle;
use parley_protocol::ErrorBody;
use parley_protocol::endpoint::{self, Endpoint, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCache, RequestInit, Response};

/// A request that has not answered by then is treated as a network failure:
/// a hung server must not leave a spinner forever.
const TIMEOUT: Duration = Duration::from_secs(20);

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
    let text = exchange(E::METHOD, &endpoint::url::<E>(params), token, body).await?;
    // An empty body reads as JSON `null`, which is exactly what `()` accepts.
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|err| ApiFailure::Invalid(err.to_string()))
}

/// Performs the fetch with a timeout; returns the body of a 2xx answer.
async fn exchange(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<String, ApiFailure> {
    let window = web_sys::window().ok_or(ApiFailure::Network)?;
    let headers = Headers::new().map_err(|_| ApiFailure::Network)?;
    let mut header_result = headers.set("Accept", "application/json");
    if let Some(token) = token {
        header_result = header_result.and(headers.set("Authorization", &format!("Bearer {token}")));
    }
    let init = RequestInit::new();
    init.set_method(method.as_str());
    // Answers are per-user and change constantly: never let the HTTP cache
    // (or an over-eager proxy) replay one.
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = &body {
        header_result = header_result.and(headers.set("Content-Type", "application/json"));
        init.set_body(&JsValue::from_str(body));
    }
    header_result.map_err(|err| ApiFailure::Invalid(format!("{err:?}")))?;
    init.set_headers(&headers);

    let controller = AbortController::new().ok();
    if let Some(controller) = &controller {
        init.set_signal(Some(&controller.signal()));
    }
    let timer = controller
        .clone()
        .and_then(|controller| set_timeout_with_handle(move || controller.abort(), TIMEOUT).ok());

    let outcome = fetch(&window, url, &init).await;
    if let Some(timer) = timer {
        timer.clear();
    }
    let (status, ok, retry_after, text) = outcome?;
    if ok {
        return Ok(text);
    }
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

/// Status, success flag, `Retry-After` (seconds form only) and body text.
async fn fetch(
    window: &web_sys::Window,
    url: &str,
    init: &RequestInit,
) -> Result<(u16, bool, Option<u64>, String), ApiFailure> {
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, init))
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
    let text_promise = response.text().map_err(|_| ApiFailure::Network)?;
    // A connection dropped mid-body is a network failure too.
    let text = JsFuture::from(text_promise)
        .await
        .map_err(|_| ApiFailure::Network)?
        .as_string()
        .unwrap_or_default();
    Ok((response.status(), response.ok(), retry_after, text))
}
