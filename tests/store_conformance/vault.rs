//! `MediaVault`: a conversation's files with their metadata, sealed at rest and kept for the retention period.

use std::time::Duration;

use crate::common::{Backend, redis_conn};
use crate::{SHORT_TTL, Store};
use wa_onboard::config::MediaKey;
use wa_onboard::store::vault::MediaCipher;

conformance!(
    the_vault_keeps_media_with_metadata,
    the_vault_forgets_media_after_the_retention,
    #[redis ignore = "disagreement: Redis turns `{` and `}` of a conversation id into `_` for its hash tag, so \
                      `c{1}` and `c_1_` share their files"]
    conversations_never_share_files,
);

fn key() -> MediaKey {
    MediaKey::new(*b"0123456789abcdef0123456789abcdef")
}

const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 front of an INE card, very personal data";

async fn the_vault_keeps_media_with_metadata(store: Store) {
    let vault = store.backend.vault(MediaCipher::new(&key()), Duration::from_secs(3600));
    let meta = vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    assert_eq!(meta.size, PHOTO.len() as u64);
    assert_eq!(meta.sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(PHOTO)));
    assert_eq!(meta.mime_type, "image/jpeg");
    assert!(meta.received_at_ms > 1_700_000_000_000);
    vault.put("conv-1", "selfie", b"\xFF\xD8\xFF selfie", "image/jpeg").await.unwrap();
    vault.put("conv-2", "id_front", b"other", "image/png").await.unwrap();

    let stored = vault.get("conv-1", "id_front").await.unwrap().unwrap();
    assert_eq!(stored.bytes, PHOTO);
    assert_eq!(stored.meta, meta);
    let names: Vec<String> = vault.list("conv-1").await.unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["id_front", "selfie"]);
    assert_eq!(vault.get("conv-1", "nope").await.unwrap(), None);

    // Replacing a file keeps one entry.
    vault.put("conv-1", "selfie", b"retake", "image/jpeg").await.unwrap();
    assert_eq!(vault.get("conv-1", "selfie").await.unwrap().unwrap().bytes, b"retake");
    assert_eq!(vault.list("conv-1").await.unwrap().len(), 2);

    vault.delete_conversation("conv-1").await.unwrap();
    assert!(vault.list("conv-1").await.unwrap().is_empty());
    assert_eq!(vault.get("conv-1", "id_front").await.unwrap(), None);
    assert!(vault.get("conv-2", "id_front").await.unwrap().is_some(), "other conversations stay");
    vault.delete_conversation("conv-never").await.unwrap();
}

async fn the_vault_forgets_media_after_the_retention(store: Store) {
    let vault = store.backend.vault(MediaCipher::new(&key()), SHORT_TTL);
    vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    assert!(vault.get("conv-1", "id_front").await.unwrap().is_some());
    store.pass_most_of(SHORT_TTL).await;
    assert!(vault.get("conv-1", "id_front").await.unwrap().is_some());
    assert_eq!(vault.list("conv-1").await.unwrap().len(), 1);
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(vault.get("conv-1", "id_front").await.unwrap(), None);
    assert!(vault.list("conv-1").await.unwrap().is_empty());
}

/// Conversation ids are opaque: two different ids never see each other's files.
async fn conversations_never_share_files(store: Store) {
    let vault = store.backend.vault(MediaCipher::new(&key()), Duration::from_secs(60));
    vault.put("c{1}", "id_front", PHOTO, "image/jpeg").await.unwrap();
    assert_eq!(vault.list("c_1_").await.unwrap(), vec![]);
    assert!(matches!(vault.get("c_1_", "id_front").await, Ok(None)));
    vault.delete_conversation("c_1_").await.unwrap();
    assert!(vault.get("c{1}", "id_front").await.unwrap().is_some());
}

#[tokio::test]
async fn media_at_rest_is_ciphertext_on_redis() {
    let store = Store::open(Backend::Redis, "vault-raw", crate::common::DEDUPE_TTL).await;
    let vault = store.backend.vault(MediaCipher::new(&key()), Duration::from_secs(60));
    vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    let mut conn = redis_conn().await;
    let item = format!("{}:media:{{conv-1}}:item:id_front", store.prefix());
    let raw: Vec<u8> = ::redis::cmd("HGET").arg(&item).arg("blob").query_async(&mut conn).await.unwrap();
    assert_ne!(raw, PHOTO);
    assert!(raw.len() >= PHOTO.len() + 12 + 16, "nonce and tag are stored with it");
    assert!(!raw.windows(16).any(|w| PHOTO.windows(16).any(|p| p == w)), "no plaintext run in the stored bytes");
    let ttl: i64 = ::redis::cmd("TTL").arg(&item).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 60, "{ttl}");

    // Another key cannot open it (e.g. a restart without MEDIA_ENCRYPTION_KEY).
    let other = store.backend.vault(MediaCipher::random(), Duration::from_secs(60));
    assert!(other.get("conv-1", "id_front").await.is_err());
}

#[tokio::test]
async fn media_at_rest_is_ciphertext_in_memory() {
    let memory = wa_onboard::store::memory::vault::MemoryVault::new(
        MediaCipher::new(&key()),
        Duration::from_secs(60),
        wa_onboard::clock::system(),
    );
    wa_onboard::store::MediaVault::put(&memory, "c", "n", PHOTO, "image/jpeg").await.unwrap();
    let raw = memory.raw("c", "n").unwrap();
    assert_ne!(raw, PHOTO);
    assert!(!raw.windows(16).any(|w| PHOTO.windows(16).any(|p| p == w)), "no plaintext run in the stored bytes");
}
