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
use web_sys::{AesGcmParams, AesKeyGenParams, Crypto, CryptoKey, SubtleCrypto};

const VAULT: &str = "vault";
const PICKLE_KEY: &str = "pickle_key";
const IV_BYTES: usize = 12;

fn js_error(what: &str, err: &JsValue) -> StoreError {
    StoreError::Backend(format!("{what}: {err:?}"))
}

/// WebCrypto of the page, or of the service worker (which has no window).
fn crypto() -> Result<Crypto> {
    crate::scope::crypto().map_err(|e| js_error("no WebCrypto", &e))
}

fn subtle() -> Result<SubtleCrypto> {
    Ok(crypto()?.subtle())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    crypto()?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|e| js_error("no randomness", &e))?;
    Ok(bytes)
}

/// The vault key, if this device made one.
async fn existing_vault_key(store: &Store) -> Result<Option<CryptoKey>> {
    match store.meta_raw(VAULT).await? {
        Some(key) => key
            .dyn_into::<CryptoKey>()
            .map(Some)
            .map_err(|_| StoreError::Backend("the stored vault key is not a CryptoKey".into())),
        None => Ok(None),
    }
}

async fn vault_key(store: &Store) -> Result<CryptoKey> {
    if let Some(key) = existing_vault_key(store).await? {
        return Ok(key);
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

/// Unseals `sealed` (IV, then AES-GCM ciphertext) with the vault key.
async fn unseal(vault: &CryptoKey, sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() <= IV_BYTES {
        return Err(StoreError::Backend("a sealed value is truncated".into()));
    }
    let (iv, body) = sealed.split_at(IV_BYTES);
    let promise = subtle()?
        .decrypt_with_object_and_u8_array(&gcm(iv), vault, body)
        .map_err(|e| js_error("cannot unseal", &e))?;
    let plain = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("cannot unseal", &e))?;
    Ok(Uint8Array::new(&plain).to_vec())
}

/// Seals `plain` with the vault key: a fresh IV, then the AES-GCM ciphertext.
async fn seal(vault: &CryptoKey, plain: &[u8]) -> Result<Vec<u8>> {
    let iv: [u8; IV_BYTES] = random()?;
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(&gcm(&iv), vault, plain)
        .map_err(|e| js_error("cannot seal", &e))?;
    let body = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("cannot seal", &e))?;
    let mut sealed = iv.to_vec();
    sealed.extend(Uint8Array::new(&body).to_vec());
    Ok(sealed)
}

/// Keeps `plain` under `name`, sealed: unreadable without this browser
/// profile's vault key.
pub async fn put_sealed(store: &Store, name: &str, plain: &[u8]) -> Result<()> {
    let vault = vault_key(store).await?;
    let sealed = seal(&vault, plain).await?;
    store
        .set_meta_raw(name, &Uint8Array::from(sealed.as_slice()).into())
        .await
}

/// What [`put_sealed`] kept under `name`, if anything (and a vault exists).
pub async fn get_sealed(store: &Store, name: &str) -> Result<Option<Vec<u8>>> {
    let (Some(vault), Some(sealed)) = (
        existing_vault_key(store).await?,
        store.meta_raw(name).await?,
    ) else {
        return Ok(None);
    };
    unseal(&vault, &Uint8Array::new(&sealed).to_vec())
        .await
        .map(Some)
}

/// This device's pickle key if it has one (the service worker must not
/// make one: that is the app's, at sign-in).
pub async fn existing_pickle_key(store: &Store) -> Result<Option<[u8; 32]>> {
    get_sealed(store, PICKLE_KEY)
        .await?
        .map(|key| {
            key.try_into()
                .map_err(|_| StoreError::Backend("the pickle key has the wrong size".into()))
        })
        .transpose()
}

/// This device's pickle key: unsealed from the store, or made and sealed on
/// first use.
pub async fn pickle_key(store: &Store) -> Result<[u8; 32]> {
    if let Some(key) = existing_pickle_key(store).await? {
        return Ok(key);
    }
    let key: [u8; 32] = random()?;
    put_sealed(store, PICKLE_KEY, &key).await?;
    Ok(key)
}
