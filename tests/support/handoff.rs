//! A user who reaches a person the common way: Spanish, consent, passport, then three blurry fronts (and the
//! selfie). Shared by the `/api/v1` tests and the console's browser test.

#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use wa_onboard::demo::card_photo;
use wa_onboard::demo::driver::{User, describe};

pub const WAIT: Duration = Duration::from_secs(60);

/// (a sharp card, a blurry card): real-size JPEGs.
pub fn photos() -> &'static (Vec<u8>, Vec<u8>) {
    static PHOTOS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PHOTOS.get_or_init(|| (card_photo(false), card_photo(true)))
}

pub fn texts(replies: &[Value]) -> Vec<String> {
    replies.iter().map(describe).collect()
}

/// Reads replies until `count` have come (Meta may deliver a burst in pieces).
pub async fn replies(user: &mut User, count: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < count {
        let more = user.expect_replies(count - got.len(), WAIT).await.unwrap();
        got.extend(texts(&more));
    }
    got
}

/// Drives the user to the handoff: three blurry fronts, each answered at once with the blur advice, the third
/// by a person (the last reply tells them a person will write here).
pub async fn send_three_blurry_photos(user: &mut User) {
    user.says("Hola").await.unwrap();
    replies(user, 1).await;
    user.taps("lang_es", "Español").await.unwrap();
    replies(user, 1).await;
    user.taps("consent_accept", "Acepto").await.unwrap();
    replies(user, 1).await;
    user.taps("doc_passport", "Pasaporte").await.unwrap();
    replies(user, 1).await;
    for n in 1..=3 {
        user.sends_photo(&format!("{}-front-{n}", user.phone), photos().1.clone(), "front").await.unwrap();
        let said = replies(user, 1).await;
        if n == 3 {
            assert!(said[0].contains("te escribirá aquí mismo"), "{said:?}");
        } else {
            assert!(said[0].contains("borrosa"), "{said:?}");
        }
    }
}
