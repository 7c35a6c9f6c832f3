//! Stores of the host's choosing: a table with a deactivation column, and
//! a store that is no table at all (the default two-query lookup).

use std::sync::atomic::Ordering;

use rocket::http::Status;
use rocket::local::asynchronous::Client;

use crate::common::{log_in, memory_app, people_app, Db, Memory, People, PASSWORD};
use wristband::Wristband;

#[rocket::async_test]
async fn a_table_store_signs_in_by_its_login_column_and_honours_active() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let client = Client::tracked(people_app(&dir, Wristband::new::<Db>(People::new())))
        .await
        .expect("launches");
    assert_eq!(
        client
            .get("/maybe")
            .dispatch()
            .await
            .into_string()
            .await
            .as_deref(),
        Some("stranger")
    );
    assert_eq!(
        log_in(&client, "ADA", PASSWORD).await,
        Status::Ok,
        "logins are lower-cased"
    );
    assert_eq!(
        client
            .get("/maybe")
            .dispatch()
            .await
            .into_string()
            .await
            .as_deref(),
        Some("ada")
    );
    assert_eq!(log_in(&client, "bob", PASSWORD).await, Status::Forbidden);
}

#[rocket::async_test]
async fn any_store_will_do_and_a_failing_one_is_503_never_anonymous() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let store = Memory::with_ada();
    let failing = store.failing.clone();
    let client = Client::tracked(memory_app(&dir, store))
        .await
        .expect("launches");
    assert_eq!(
        log_in(&client, "nobody", PASSWORD).await,
        Status::Unauthorized
    );
    assert_eq!(log_in(&client, "ada", PASSWORD).await, Status::Ok);
    assert_eq!(
        client
            .get("/private")
            .dispatch()
            .await
            .into_string()
            .await
            .as_deref(),
        Some("hello ada")
    );

    failing.store(true, Ordering::SeqCst);
    assert_eq!(
        client.get("/private").dispatch().await.status(),
        Status::ServiceUnavailable
    );
    assert_eq!(
        client.get("/maybe").dispatch().await.status(),
        Status::ServiceUnavailable
    );
    // Still signed in once the store answers again: nothing was taken off.
    failing.store(false, Ordering::SeqCst);
    assert_eq!(client.get("/private").dispatch().await.status(), Status::Ok);

    let token = client
        .get("/token")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap_or_default();
    let out = client
        .post("/logout")
        .header(rocket::http::ContentType::Form)
        .body(format!("csrf_token={token}"))
        .dispatch()
        .await;
    assert_eq!(out.status(), Status::Ok);
    assert_eq!(
        client.get("/private").dispatch().await.status(),
        Status::SeeOther
    );
}

#[rocket::async_test]
async fn a_host_may_read_its_own_header_scheme_or_turn_tokens_off() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let store = Memory {
        tokens: false,
        ..Memory::with_ada()
    };
    let client = Client::untracked(memory_app(&dir, store))
        .await
        .expect("launches");
    let key = |value: &'static str| rocket::http::Header::new("X-Key", value);
    let right = client
        .get("/private")
        .header(key("ada-key"))
        .dispatch()
        .await;
    assert_eq!(right.into_string().await.as_deref(), Some("hello ada"));
    let wrong = client
        .get("/api/whoami")
        .header(key("bob-key"))
        .dispatch()
        .await;
    assert_eq!(wrong.status(), Status::Unauthorized);
    assert_eq!(
        wrong.headers().get_one("WWW-Authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    // Bearer tokens are off for this host: a token is no credential at all.
    let bearer =
        rocket::http::Header::new("Authorization", format!("Bearer wb_{}", "ab".repeat(32)));
    let anonymous = client.get("/api/whoami").header(bearer).dispatch().await;
    assert_eq!(anonymous.status(), Status::Unauthorized);
    assert_eq!(anonymous.headers().get_one("WWW-Authenticate"), None);
}
