//! The key that seals the crypto state at rest.
//!
//! A non-extractable AES-GCM `CryptoKey` is made once per device and kept in
//! IndexedDB: the browser can use it, but no script can read its bytes, so a
//! copy of the stored data is useless without this browser profile. It seals
//! a random 32-byte pickle key, which vodozemac uses to encrypt the pickled
//! Olm account and sessions (vodozemac needs the key as bytes, so it cannot
//! be the `CryptoKey` itself).

use super::{Result, Store, StoreError};
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

const VAULT: &str = "vault";
const PICKLE_KEY: &str = "pickle_key";
const IV_BYTES: usize = 12;

fn js_error(what: &str, err: &JsValue) -> StoreError {
    StoreError::Backend(format!("{what}: {err:?}"))
}

fn subtle() -> Result<SubtleCrypto> {
    let window = web_sys::window().ok_or_else(|| StoreError::Backend("no window".into()))?;
    let crypto = window.crypto().map_err(|e| js_error("no WebCrypto", &e))?;
    Ok(crypto.subtle())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom(&mut bytes)?;
    Ok(bytes)
}

fn getrandom(bytes: &mut [u8]) -> Result<()> {
    let window = web_sys::window().ok_or_else(|| StoreError::Backend("no window".into()))?;
    window
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(bytes))
        .map(|_| ())
        .map_err(|e| js_error("no randomness", &e))
}

async fn vault_key(store: &Store) -> Result<CryptoKey> {
    if let Some(key) = store.meta_raw(VAULT).await? {
        return key
            .dyn_into::<CryptoKey>()
            .map_err(|_| StoreError::Backend("the stored vault key is not a CryptoKey".into()));
    }
    let params = AesKeyGenParams::new("AES-GCM", 256);
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let promise = subtle()?
        .generate_key_with_object(&params, false, &usages)
        .map_err(|e| js_error("cannot make the vault key", &e))?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("cannot make the vault key", &e))?
        .unchecked_into();
    store.set_meta_raw(VAULT, &key).await?;
    Ok(key)
}

fn gcm(iv: &[u8]) -> AesGcmParams {
    let iv: Object = Uint8Array::from(iv).into();
    AesGcmParams::new("AES-GCM", &iv)
}

/// This device's pickle key: unsealed from the store, or made and sealed on
/// first use.
pub async fn pickle_key(store: &Store) -> Result<[u8; 32]> {
    let vault = vault_key(store).await?;
    if let Some(sealed) = store.meta_raw(PICKLE_KEY).await? {
        let sealed = Uint8Array::new(&sealed).to_vec();
        if sealed.len() <= IV_BYTES {
            return Err(StoreError::Backend(
                "the sealed pickle key is truncated".into(),
            ));
        }
        let (iv, body) = sealed.split_at(IV_BYTES);
        let promise = subtle()?
            .decrypt_with_object_and_u8_array(&gcm(iv), &vault, body)
            .map_err(|e| js_error("cannot unseal the pickle key", &e))?;
        let plain = JsFuture::from(promise)
            .await
            .map_err(|e| js_error("cannot unseal the pickle key", &e))?;
        return Uint8Array::new(&plain)
            .to_vec()
            .try_into()
            .map_err(|_| StoreError::Backend("the pickle key has the wrong size".into()));
    }
    let key: [u8; 32] = random()?;
    let iv: [u8; IV_BYTES] = random()?;
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(&gcm(&iv), &vault, &key)
        .map_err(|e| js_error("cannot seal the pickle key", &e))?;
    let body = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("cannot seal the pickle key", &e))?;
    let mut sealed = iv.to_vec();
    sealed.extend(Uint8Array::new(&body).to_vec());
    store
        .set_meta_raw(PICKLE_KEY, &Uint8Array::from(sealed.as_slice()).into())
        .await?;
    Ok(key)
}
