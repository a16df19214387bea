//! WebCrypto for attachments: each chunk sealed or opened with AES-256-GCM
//! under the file's own key, at the nonce the core's format gives it, and
//! hashed with SHA-256. The bytes stay in JavaScript `ArrayBuffer`s: a
//! chunk is never copied into the wasm heap.

use js_sys::{Array, ArrayBuffer, Object, Uint8Array};
use parley_client::attachment::chunk_nonce;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

/// What went wrong in WebCrypto, for the person: the details go to the log.
fn failed(what: &'static str) -> impl Fn(JsValue) -> String {
    move |err| {
        leptos::logging::warn!("{what}: {err:?}");
        what.to_owned()
    }
}

fn subtle() -> Result<SubtleCrypto, String> {
    crate::scope::crypto()
        .map(|c| c.subtle())
        .map_err(failed("This browser has no WebCrypto."))
}

/// A fresh random 256-bit key.
pub fn new_key() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    crate::scope::crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut key).map(|_| ()))
        .map_err(failed("This browser has no randomness."))?;
    Ok(key)
}

/// The file key as a WebCrypto key (not extractable).
pub async fn import(key: &[u8; 32]) -> Result<CryptoKey, String> {
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let raw: Object = Uint8Array::from(&key[..]).into();
    let promise = subtle()?
        .import_key_with_str("raw", &raw, "AES-GCM", false, &usages)
        .map_err(failed("The file key could not be used."))?;
    JsFuture::from(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(failed("The file key could not be used."))
}

fn gcm(index: u64, last: bool) -> AesGcmParams {
    let nonce: Object = Uint8Array::from(&chunk_nonce(index, last)[..]).into();
    AesGcmParams::new("AES-GCM", &nonce)
}

/// Seals chunk `index` of a file.
pub async fn seal(
    key: &CryptoKey,
    index: u64,
    last: bool,
    plain: &ArrayBuffer,
) -> Result<ArrayBuffer, String> {
    let promise = subtle()?
        .encrypt_with_object_and_buffer_source(&gcm(index, last), key, plain)
        .map_err(failed("The file could not be encrypted."))?;
    JsFuture::from(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(failed("The file could not be encrypted."))
}

/// Opens chunk `index` of a blob: an error when it was altered or moved.
pub async fn open(
    key: &CryptoKey,
    index: u64,
    last: bool,
    sealed: &ArrayBuffer,
) -> Result<ArrayBuffer, String> {
    let promise = subtle()?
        .decrypt_with_object_and_buffer_source(&gcm(index, last), key, sealed)
        .map_err(failed("The file is damaged."))?;
    JsFuture::from(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|_| "The file is damaged.".to_owned())
}

/// SHA-256 of a sealed chunk.
pub async fn digest(bytes: &ArrayBuffer) -> Result<[u8; 32], String> {
    let promise = subtle()?
        .digest_with_str_and_buffer_source("SHA-256", bytes)
        .map_err(failed("The file could not be hashed."))?;
    let hash = JsFuture::from(promise)
        .await
        .map_err(failed("The file could not be hashed."))?;
    Uint8Array::new(&hash)
        .to_vec()
        .try_into()
        .map_err(|_| "The file could not be hashed.".to_owned())
}
