//! What a host configures on the fairing: paths, cookie names, the JSON
//! rule; and what it gets without configuring anything.

use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;

use crate::common::{log_in, people_app, Db, People, PASSWORD};
use wristband::{CookieName, CookieNames, Wristband};

fn fairing() -> Wristband<People> {
    Wristband::new::<Db>(People::new())
}

async fn client(wristband: Wristband<People>) -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let client = Client::tracked(people_app(&dir, wristband))
        .await
        .expect("the host launches");
    (client, dir)
}

#[rocket::async_test]
async fn defaults_send_anonymous_visitors_to_login_and_api_clients_get_json() {
    let (client, _dir) = client(fairing()).await;
    let page = client.get("/private").dispatch().await;
    assert_eq!(page.status(), Status::SeeOther);
    assert_eq!(
        page.headers().get_one("Location"),
        Some("/login?next=%2Fprivate")
    );
    let api = client
        .get("/private")
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(api.status(), Status::Unauthorized);
    assert_eq!(
        api.into_string().await.as_deref(),
        Some(r#"{"error":"unauthorized"}"#)
    );
}

#[rocket::async_test]
async fn paths_and_cookie_names_are_the_hosts() {
    let names = CookieNames {
        user: CookieName::named("band").expect("a valid name"),
        ..CookieNames::default()
    };
    let (client, _dir) = client(
        fairing()
            .login_path("/sign-in")
            .reauth_path("/again")
            .cookie_names(names),
    )
    .await;
    let page = client.get("/private").dispatch().await;
    assert_eq!(
        page.headers().get_one("Location"),
        Some("/sign-in?next=%2Fprivate")
    );
    let response = client
        .post("/login")
        .header(ContentType::Form)
        .body(format!("name=ada&password={}", PASSWORD.replace(' ', "+")))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let set: Vec<&str> = response.headers().get("Set-Cookie").collect();
    let band = set
        .iter()
        .find(|c| c.starts_with("band="))
        .unwrap_or_else(|| panic!("a band cookie in {set:?}"));
    assert!(band.contains("HttpOnly") && band.contains("SameSite=Lax") && band.contains("Path=/"));
    assert!(!set.iter().any(|c| c.starts_with("user_id=")), "{set:?}");
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
}

#[rocket::async_test]
async fn the_json_rule_is_the_hosts() {
    let (client, _dir) = client(fairing().json_when(|req| req.uri().path() == "/private")).await;
    let response = client.get("/private").dispatch().await;
    assert_eq!(response.status(), Status::Unauthorized);
    // Outside the rule, the redirect.
    assert_eq!(
        log_in(&client, "ada", "wrong password").await,
        Status::Unauthorized
    );
}

#[rocket::async_test]
async fn a_path_that_is_not_local_stops_the_launch() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let launched = people_app(&dir, fairing().login_path("https://evil.example/login"))
        .ignite()
        .await;
    match launched {
        Ok(_) => panic!("ignited with a foreign login path"),
        Err(e) => assert!(matches!(
            e.kind(),
            rocket::error::ErrorKind::FailedFairings(_)
        )),
    }
}

#[rocket::async_test]
async fn figment_settings_reach_the_library() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let figment = crate::common::figment(&dir).merge(("max_failed_logins", 2));
    let rocket = crate::common::people_app_on(figment, fairing());
    let client = Client::tracked(rocket).await.expect("the host launches");
    for _ in 0..2 {
        assert_eq!(
            log_in(&client, "ada", "wrong password").await,
            Status::Unauthorized
        );
    }
    assert_eq!(
        log_in(&client, "ada", PASSWORD).await,
        Status::TooManyRequests
    );
}
