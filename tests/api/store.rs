//! The store's guarantees that HTTP cannot easily reach: an idempotency claim whose lease ran out.

use rondo::domain::model::CalendarStatus;
use rondo::outbox::Job;
use rondo::store::{Claim, Recorded, Store};

use crate::support::*;

/// A store on a new SQLite file in `dir`, migrations applied.
async fn fresh_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
    Store::connect(&url, true).await.unwrap()
}

#[tokio::test]
async fn a_taken_over_claim_can_no_longer_save_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
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
    let answer = |n: u128| Recorded::Booked {
        meeting: uuid::Uuid::from_u128(n),
    };
    assert!(!store.save_outcome(&first, answer(1)).await.unwrap());
    store.release_idempotency_key(&first).await.unwrap(); // must not drop the retry's claim
    assert!(store.save_outcome(&second, answer(2)).await.unwrap());
    assert_eq!(
        store
            .claim_idempotency_key("scope", "k", "hash", later)
            .await
            .unwrap(),
        Claim::Replay(answer(2))
    );
    assert_eq!(
        store
            .claim_idempotency_key("scope", "k", "other", later)
            .await
            .unwrap(),
        Claim::Mismatch
    );
}

#[tokio::test]
async fn a_crashed_workers_job_is_taken_again_once_its_lease_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let t0 = default_now();
    let mut tx = store.begin_write().await.unwrap();
    let id = store
        .insert_job_in(
            &mut tx,
            &Job::CalendarSync {
                meeting: uuid::Uuid::now_v7(),
            },
            t0,
            t0,
        )
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    let lease = chrono::Duration::seconds(120);
    let first = store.claim_due_jobs(t0, lease, 10).await.unwrap();
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    // The worker "dies" holding it: nobody else takes it while the lease holds...
    assert!(store
        .claim_due_jobs(t0 + chrono::Duration::seconds(60), lease, 10)
        .await
        .unwrap()
        .is_empty());
    // ...and the next worker does once it has run out, as the job's second attempt.
    let again = store
        .claim_due_jobs(t0 + chrono::Duration::seconds(121), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // The first worker wakes up and settles its stale claim: nothing happens; the new claim's settle counts.
    let stale = &first[0];
    store
        .bury_job(stale, "late", t0 + chrono::Duration::seconds(130))
        .await
        .unwrap();
    assert_eq!(store.job(id).await.unwrap().unwrap().status, "pending");
    store
        .finish_job(&again[0], t0 + chrono::Duration::seconds(131))
        .await
        .unwrap();
    assert_eq!(store.job(id).await.unwrap().unwrap().status, "done");
    store
        .finish_job(stale, t0 + chrono::Duration::seconds(132))
        .await
        .unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let id = store
        .insert_job_in(
            &mut tx,
            &Job::CalendarSync {
                meeting: uuid::Uuid::now_v7(),
            },
            t0,
            t0,
        )
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    let again = store
        .claim_due_jobs(t0 + chrono::Duration::seconds(121), lease, 10)
        .await
        .unwrap();
    assert_eq!(again[0].id, id);
    // A clean shutdown hands a claim back without counting it.
    store.release_jobs(&[id]).await.unwrap();
    let third = store
        .claim_due_jobs(t0 + chrono::Duration::seconds(122), lease, 10)
        .await
        .unwrap();
    assert_eq!(third[0].attempts, 1);
}

#[tokio::test]
async fn a_calendar_sync_that_outlived_its_lease_cannot_record_over_its_successor() {
    let app = spawn_app().await;
    app.create_team("solo", serde_json::json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let id: uuid::Uuid = b["id"].as_str().unwrap().parse().unwrap();
    let store = &app.app.store;
    let t0 = default_now();
    let first = t0 + chrono::Duration::seconds(300);
    assert!(store.lock_calendar(id, t0, first).await.unwrap());
    // The first sync stalls past its lease; a second one takes the meeting.
    let t1 = first + chrono::Duration::seconds(1);
    let second = t1 + chrono::Duration::seconds(300);
    assert!(store.lock_calendar(id, t1, second).await.unwrap());
    assert!(!store
        .set_calendar_holder(id, first, None, None)
        .await
        .unwrap());
    let mut tx = store.begin_write().await.unwrap();
    let recorded = store
        .record_calendar_sync_in(
            &mut tx,
            id,
            first,
            99,
            None,
            None,
            CalendarStatus::Deleted,
            None,
        )
        .await
        .unwrap();
    store.commit(tx).await.unwrap();
    assert!(!recorded);
    let now = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(
        now["calendar_event"]["status"], "created",
        "untouched: {now}"
    );
    // The successor's lease is intact and its own writes go through.
    assert!(store
        .set_calendar_holder(
            id,
            second,
            Some(b["agent"]["id"].as_str().unwrap().parse().unwrap()),
            None
        )
        .await
        .unwrap());
}

#[tokio::test]
async fn a_stored_visitor_that_no_longer_parses_stays_readable_and_an_unknown_calendar_status_is_corrupt(
) {
    let app = spawn_app().await;
    app.create_team("solo", serde_json::json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let id: uuid::Uuid = b["id"].as_str().unwrap().parse().unwrap();
    let store = &app.app.store;
    let edit = |sql: &'static str| app.edit_row(sql, id);
    // An address an older check let through and a zone a later tzdata renamed: the meeting still reads,
    // with the address as stored and no zone (times in UTC).
    edit("UPDATE meetings SET lead_email = 'a>b,c@example.org', lead_timezone = 'Mars/Olympus' WHERE id = $1")
        .await;
    let now = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["visitor"]["email"], "a>b,c@example.org", "{now}");
    assert_eq!(now["visitor"]["timezone"], serde_json::Value::Null, "{now}");
    assert_eq!(now["start"], "2026-11-23T10:00:00+00:00", "{now}");
    // A calendar status this build does not know is a damaged row, reported and not panicked on.
    edit("UPDATE meetings SET calendar_status = 'exploded' WHERE id = $1").await;
    assert!(matches!(
        store.meeting(id).await,
        Err(rondo::store::StoreError::Corrupt(_))
    ));
}
