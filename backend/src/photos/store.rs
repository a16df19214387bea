//! Database access for profile photos, and the SQL that decides who sees one.

use parley_protocol::UserId;
use sqlx::PgPool;

/// SQL: the version of the profile photo of the user `u`, when the viewer
/// bound as `$1` may see it (owners always see their own; others as the
/// owner's `photo_visibility` and blocks decide, through `may_see`), else
/// NULL. Every query that shows a user (cards, contacts, blocks) selects it.
macro_rules! photo_seen_by_1 {
    () => {
        "(SELECT p.etag FROM user_photos p WHERE p.user_id = u.id
              AND (u.id = $1 OR may_see(u.photo_visibility, u.id, $1)))"
    };
}
pub(crate) use photo_seen_by_1;

/// A stored photo, as served.
#[derive(Debug, sqlx::FromRow)]
pub struct PhotoRow {
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// The image; `None` when the viewer holds this version already (it
    /// is then not read at all).
    pub bytes: Option<Vec<u8>>,
    /// Hash of the bytes: the version and the `ETag`.
    pub etag: String,
}

/// The versions of a photo a viewer's cache holds (`If-None-Match`).
#[derive(Debug, Default)]
pub struct Held {
    /// Any version (`*`).
    pub any: bool,
    /// These versions (the `ETag`s without their quotes).
    pub versions: Vec<String>,
}

/// Sets `user`'s photo, replacing any earlier one.
pub async fn put(
    pool: &PgPool,
    user: UserId,
    content_type: &str,
    bytes: &[u8],
    etag: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_photos (user_id, content_type, bytes, etag) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET content_type = $2, bytes = $3, etag = $4,
                                             updated_at = now()",
    )
    .bind(user)
    .bind(content_type)
    .bind(bytes)
    .bind(etag)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes `user`'s photo, if any.
pub async fn remove(pool: &PgPool, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_photos WHERE user_id = $1")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

/// `owner`'s photo if `viewer` may see it: `None` when there is none and
/// when it is hidden from them alike. Its bytes are read only when the
/// viewer does not hold its version (`held`): a revalidation costs no read
/// of the image.
pub async fn seen_by(
    pool: &PgPool,
    viewer: UserId,
    owner: UserId,
    held: &Held,
) -> Result<Option<PhotoRow>, sqlx::Error> {
    // The image is stored out of line (TOAST) and fetched only if the
    // CASE yields it.
    sqlx::query_as(
        "SELECT p.content_type, p.etag,
                CASE WHEN $3 OR p.etag = ANY($4::text[]) THEN NULL ELSE p.bytes END AS bytes
         FROM user_photos p JOIN users u ON u.id = p.user_id
         WHERE p.user_id = $2 AND (u.id = $1 OR may_see(u.photo_visibility, u.id, $1))",
    )
    .bind(viewer)
    .bind(owner)
    .bind(held.any)
    .bind(&held.versions)
    .fetch_optional(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows;

    fn held(any: bool, versions: &[&str]) -> Held {
        Held {
            any,
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_held_version_is_answered_without_its_bytes(pool: PgPool) {
        let alice = test_rows::user(&pool, "alice").await;
        let bob = test_rows::user(&pool, "bob").await;
        put(&pool, alice, "image/png", b"png", "v1").await.unwrap();
        let cases = [
            (held(false, &[]), Some(&b"png"[..])),
            (held(false, &["v0"]), Some(b"png")),
            (held(false, &["v0", "v1"]), None),
            (held(true, &[]), None),
        ];
        for (held, bytes) in cases {
            let row = seen_by(&pool, bob, alice, &held).await.unwrap().unwrap();
            assert_eq!(
                (row.content_type.as_str(), row.etag.as_str()),
                ("image/png", "v1")
            );
            assert_eq!(row.bytes.as_deref(), bytes, "{held:?}");
        }
        // Hidden is hidden, held or not: the same `None` as no photo.
        sqlx::query("UPDATE users SET photo_visibility = 'nobody' WHERE id = $1")
            .bind(alice)
            .execute(&pool)
            .await
            .unwrap();
        for held in [held(true, &[]), held(false, &["v1"]), held(false, &[])] {
            assert!(seen_by(&pool, bob, alice, &held).await.unwrap().is_none());
            assert!(seen_by(&pool, alice, bob, &held).await.unwrap().is_none());
        }
        let own = seen_by(&pool, alice, alice, &held(false, &["v1"])).await;
        assert!(own.unwrap().unwrap().bytes.is_none(), "the owner's own");
    }
}
