//! The store's guarantees that HTTP cannot easily reach: an idempotency claim whose lease ran out.

use rondo::store::{Claim, Store, StoredResponse};

use crate::support::*;

#[tokio::test]
async fn a_taken_over_claim_can_no_longer_save_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}/s.db?mode=rwc", dir.path().display()),
        true,
    )
    .await
    .unwrap();
    let t0 = default_now();
    let Claim::Started(first) = store
        .claim_idempotency_key("scope", "k", "hash", t0)
        .await
        .unwrap()
    else {
        panic!("a new key is ours")
    };
    assert_eq!(
        store
            .claim_idempotency_key("scope", "k", "hash", t0)
            .await
            .unwrap(),
        Claim::InFlight
    );
    // The first request stalls past its lease; a retry takes the key over.
    let later = t0 + chrono::Duration::seconds(61);
    let Claim::Started(second) = store
        .claim_idempotency_key("scope", "k", "hash", later)
        .await
        .unwrap()
    else {
        panic!("an expired lease is taken over")
    };
    let answer = |body: &str| StoredResponse {
        status: 201,
        body: body.into(),
    };
    assert!(!store
        .save_idempotent_response(&first, &answer("first"))
        .await
        .unwrap());
    store.release_idempotency_key(&first).await.unwrap(); // must not drop the retry's claim
    assert!(store
        .save_idempotent_response(&second, &answer("second"))
        .await
        .unwrap());
    assert_eq!(
        store
            .claim_idempotency_key("scope", "k", "hash", later)
            .await
            .unwrap(),
        Claim::Replay(answer("second"))
    );
    assert_eq!(
        store
            .claim_idempotency_key("scope", "k", "other", later)
            .await
            .unwrap(),
        Claim::Mismatch
    );
}
