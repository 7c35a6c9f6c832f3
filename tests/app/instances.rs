//! Several instances behind a load balancer: two copies of the app with one
//! `secret_key` and one PostgreSQL database, and browsers whose requests
//! land on either. The wristband is self-contained and everything else is
//! in the database, so it must not matter which instance answers.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::common::{csrf_token_in, encode_form, figment, Backend, TestDb, PASSWORD, T0};
use rocket::figment::Figment;
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Cookie, Header, Method};
use rocket::local::asynchronous::Client;
use rocket::time::OffsetDateTime;
use rocket_db_pools::Database;
use sqlx::Row;
use wristband::Clock;
use wristband::Hasher;
use wristband_app::db::Db;

postgres_tests!(
    instances_start_together_on_a_fresh_database,
    a_wristband_from_one_instance_works_on_the_other,
    logging_out_on_one_instance_logs_out_everywhere,
    a_copied_wristband_dies_on_every_instance_at_logout,
    a_session_ended_on_one_instance_is_anonymous_on_the_other,
    a_token_revoked_on_one_instance_is_refused_by_the_other,
    simultaneous_registrations_across_instances_make_one_account,
    failed_logins_on_both_instances_add_up_to_one_throttle,
    simultaneous_guesses_on_both_instances_get_exactly_the_limit,
    simultaneous_guesses_from_one_address_on_both_instances_get_exactly_its_limit,
);

/// Two instances, A and B, of one deployment: same settings and key, one
/// database. Declared before the database so they close first.
struct Deployment {
    instances: [Client; 2],
    _db: TestDb,
}

impl Deployment {
    /// Launches both instances at once on a fresh database, as a rolling
    /// deployment might: both run the migrations, and that must be safe.
    async fn launch() -> Deployment {
        Deployment::launch_with(|figment| figment).await
    }

    /// Both instances on the configuration `configure` makes.
    async fn launch_with(configure: impl Fn(Figment) -> Figment) -> Deployment {
        let db = TestDb::create(Backend::Postgres).await;
        let launch = || async {
            let rocket = wristband_app::build(configure(figment(db.url())), Clock::manual(T0));
            Client::untracked(rocket)
                .await
                .expect("the instance launches")
        };
        let (a, b) = rocket::tokio::join!(launch(), launch());
        Deployment {
            instances: [a, b],
            _db: db,
        }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        Db::fetch(self.instances[0].rocket()).expect("database attached")
    }

    async fn accounts_named(&self, username: &str) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_one(self.pool())
            .await
            .and_then(|row| row.try_get("n"))
            .expect("count")
    }
}

/// What a browser keeps of a response.
#[derive(Debug)]
struct Reply {
    status: u16,
    location: Option<String>,
    retry_after: Option<String>,
    sets_user_id: bool,
    body: String,
}

/// A browser behind the load balancer: it keeps its own cookies and sends
/// them to whichever instance the balancer picks.
#[derive(Default)]
struct Browser {
    jar: Mutex<BTreeMap<String, Cookie<'static>>>,
}

impl Browser {
    fn cookies(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Cookie<'static>>> {
        self.jar
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn has_cookie(&self, name: &str) -> bool {
        self.cookies().contains_key(name)
    }

    async fn send(
        &self,
        to: &Client,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        json: bool,
    ) -> Reply {
        let sent: Vec<Cookie<'static>> = self.cookies().values().cloned().collect();
        let mut request = to.req(method, path.to_string()).cookies(sent);
        if let Some(fields) = form {
            request = request.header(ContentType::Form).body(encode_form(fields));
        }
        if json {
            request = request.header(Header::new("Accept", "application/json"));
        }
        let response = request.dispatch().await;
        let now = OffsetDateTime::now_utc();
        let mut sets_user_id = false;
        for header in response.headers().get("Set-Cookie") {
            let Ok(cookie) = Cookie::parse_encoded(header.to_string()) else {
                continue;
            };
            sets_user_id |= cookie.name() == "user_id";
            let removed = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative())
                || cookie.expires_datetime().is_some_and(|at| at <= now);
            let mut jar = self.cookies();
            if removed {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_string(), cookie);
            }
        }
        let header = |name| response.headers().get_one(name).map(str::to_string);
        let (status, location, retry_after) = (
            response.status().code,
            header("Location"),
            header("Retry-After"),
        );
        let body = response.into_string().await.unwrap_or_default();
        Reply {
            status,
            location,
            retry_after,
            sets_user_id,
            body,
        }
    }

    async fn get(&self, to: &Client, path: &str) -> Reply {
        self.send(to, Method::Get, path, None, false).await
    }

    async fn get_json(&self, to: &Client, path: &str) -> Reply {
        self.send(to, Method::Get, path, None, true).await
    }

    /// A CSRF token for this browser, from a form served by `from`.
    async fn token(&self, from: &Client) -> String {
        let page = self.get(from, "/login").await;
        csrf_token_in(&page.body).expect("the login page has a csrf_token field")
    }

    /// Posts a form to `to` with a token this browser got from `token_from`.
    async fn post(
        &self,
        token_from: &Client,
        to: &Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let token = self.token(token_from).await;
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.send(to, Method::Post, path, Some(&fields), false)
            .await
    }

    async fn register(&self, to: &Client, username: &str) -> Reply {
        let fields = [
            ("username", username),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ];
        self.post(to, to, "/register", &fields).await
    }

    async fn login(&self, to: &Client, username: &str, password: &str) -> Reply {
        self.post(
            to,
            to,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
    }
}

fn assert_redirect(reply: &Reply, location: &str) {
    assert_eq!(
        (reply.status, reply.location.as_deref()),
        (303, Some(location)),
        "{reply:?}"
    );
}

fn assert_signed_in_as(home: &Reply, username: &str) {
    assert_eq!(home.status, 200);
    assert!(
        home.body
            .contains(&format!(r#"<strong id="current-user">{username}</strong>"#)),
        "{}",
        home.body
    );
}

fn assert_anonymous(home: &Reply) {
    assert_eq!(home.status, 200);
    assert!(home.body.contains(r#"href="/login""#), "{}", home.body);
    assert!(!home.body.contains(r#"id="current-user""#), "{}", home.body);
}

async fn instances_start_together_on_a_fresh_database() {
    let deployment = Deployment::launch().await;
    let migrations: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(deployment.pool())
        .await
        .and_then(|row| row.try_get("n"))
        .expect("count");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations dir")
        .count();
    assert_eq!(
        migrations,
        i64::try_from(files).unwrap_or(-1),
        "each migration ran once"
    );
    let browser = Browser::default();
    for instance in &deployment.instances {
        assert_anonymous(&browser.get(instance, "/").await);
    }
}

async fn a_wristband_from_one_instance_works_on_the_other() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    let browser = Browser::default();

    let registered = browser.register(a, "ada").await;
    assert_redirect(&registered, "/");
    assert!(registered.sets_user_id && browser.has_cookie("user_id"));

    assert_signed_in_as(&browser.get(b, "/").await, "ada");
    let profile = browser.get(b, "/profile").await;
    assert_eq!(profile.status, 200);
    assert!(profile.body.contains("ada"), "{}", profile.body);
    let me = browser.get_json(b, "/api/me").await;
    assert_eq!(
        (me.status, me.body.as_str()),
        (200, r#"{"id":1,"username":"ada"}"#)
    );

    // And the other way round: log in on B, use it on A.
    let other = Browser::default();
    assert_redirect(&other.login(b, "ADA", PASSWORD).await, "/");
    assert_signed_in_as(&other.get(a, "/").await, "ada");
}

async fn logging_out_on_one_instance_logs_out_everywhere() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    let browser = Browser::default();
    assert_redirect(&browser.register(a, "ada").await, "/");

    // The form came from A, the POST lands on B: one key, so B accepts
    // A's CSRF token too.
    let logout = browser.post(a, b, "/logout", &[]).await;
    assert_redirect(&logout, "/");
    assert!(logout.sets_user_id, "B removes the wristband: {logout:?}");
    assert!(!browser.has_cookie("user_id"));

    // The browser no longer sends a wristband, so A sees a stranger.
    assert_anonymous(&browser.get(a, "/").await);
    let profile = browser.get(a, "/profile").await;
    assert_redirect(&profile, "/login?next=%2Fprofile");
    let me = browser.get_json(a, "/api/me").await;
    assert_eq!(
        (me.status, me.body.as_str()),
        (401, r#"{"error":"unauthorized"}"#)
    );
}

async fn a_copied_wristband_dies_on_every_instance_at_logout() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    let browser = Browser::default();
    assert_redirect(&browser.register(a, "ada").await, "/");
    let copied = browser.cookies().clone();
    let copy = Browser::default();
    *copy.cookies() = copied.clone();
    assert_signed_in_as(&copy.get(b, "/").await, "ada");

    assert_redirect(&browser.post(a, a, "/logout", &[]).await, "/");
    // The copy keeps sending the cookie (put back each time, as an
    // attacker's script would); neither instance honours it.
    for instance in [a, b] {
        *copy.cookies() = copied.clone();
        let me = copy.get_json(instance, "/api/me").await;
        assert_eq!(me.status, 401, "{me:?}");
        assert!(me.sets_user_id, "the instance removes it: {me:?}");
    }
}

async fn a_session_ended_on_one_instance_is_anonymous_on_the_other() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    let laptop = Browser::default();
    assert_redirect(&laptop.register(a, "ada").await, "/");
    let phone = Browser::default();
    assert_redirect(&phone.login(a, "ada", PASSWORD).await, "/");
    assert_signed_in_as(&phone.get(a, "/").await, "ada");

    // On B, the laptop ends every other session.
    let ended = laptop
        .post(b, b, "/settings/sessions/end-others", &[])
        .await;
    assert_redirect(&ended, "/settings");
    // The phone's very next request, on A, is anonymous.
    assert_anonymous(&phone.get(a, "/").await);
    assert_signed_in_as(&laptop.get(a, "/").await, "ada");
}

async fn a_token_revoked_on_one_instance_is_refused_by_the_other() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    let laptop = Browser::default();
    assert_redirect(&laptop.register(a, "ada").await, "/");
    let made = laptop
        .post(a, a, "/settings/tokens", &[("name", "ci")])
        .await;
    assert_eq!(made.status, 200);
    let at = made.body.find("wb_").expect("the new token");
    let token = made.body[at..at + 67].to_string();
    let api = |to: &'static str| {
        let client = if to == "a" { a } else { b };
        let token = token.clone();
        async move {
            client
                .get("/api/me")
                .header(Header::new("Authorization", format!("Bearer {token}")))
                .dispatch()
                .await
                .status()
                .code
        }
    };
    assert_eq!(api("a").await, 200);
    assert_eq!(api("b").await, 200);
    let settings = laptop.get(b, "/settings").await;
    let marker = r#"name="token" value=""#;
    let at = settings.body.find(marker).expect("a revoke button") + marker.len();
    let id = settings.body[at..at + 32].to_string();
    let revoked = laptop
        .post(b, b, "/settings/tokens/revoke", &[("token", &id)])
        .await;
    assert_redirect(&revoked, "/settings");
    // The very next request, on A, is refused.
    assert_eq!(api("a").await, 401);
}

async fn simultaneous_registrations_across_instances_make_one_account() {
    let deployment = Deployment::launch().await;
    let browsers: Vec<Browser> = (0..20).map(|_| Browser::default()).collect();
    // Each browser has its form (and token) ready before any is sent.
    let mut tokens = Vec::new();
    for (i, browser) in browsers.iter().enumerate() {
        tokens.push(browser.token(&deployment.instances[i % 2]).await);
    }
    // One name, typed in different cases, sent at once to both instances.
    let spellings = ["grace", "Grace", "GRACE", "gRaCe"];
    let sends = browsers
        .iter()
        .zip(&tokens)
        .enumerate()
        .map(|(i, (browser, token))| {
            let fields = [
                ("username", spellings[i % spellings.len()]),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", token.as_str()),
            ];
            let instance = &deployment.instances[i % 2];
            async move {
                browser
                    .send(instance, Method::Post, "/register", Some(&fields), false)
                    .await
            }
        });
    let replies = join_all(sends).await;

    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 303).collect();
    let lost: Vec<&Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!((won.len(), lost.len()), (1, 19), "{replies:#?}");
    assert_redirect(won[0], "/");
    assert!(won[0].sets_user_id);
    for reply in lost {
        assert!(
            reply.body.contains("That username is taken."),
            "{}",
            reply.body
        );
        assert!(!reply.sets_user_id);
    }
    assert_eq!(deployment.accounts_named("grace").await, 1);
}

async fn failed_logins_on_both_instances_add_up_to_one_throttle() {
    let deployment = Deployment::launch().await;
    let [a, b] = &deployment.instances;
    assert_redirect(&Browser::default().register(a, "ada").await, "/");

    // max_failed_logins is 5: five failures, spread over both instances...
    let attacker = Browser::default();
    for (i, instance) in [a, b, a, b, a].into_iter().enumerate() {
        let reply = attacker.login(instance, "ada", "not the password").await;
        assert_eq!(reply.status, 401, "failure {}: {reply:?}", i + 1);
        assert!(reply.body.contains("Invalid username or password."));
    }
    // ...and the next attempt is refused on either, for the rest of the window.
    for instance in [b, a] {
        let reply = attacker.login(instance, "ada", "not the password").await;
        assert_eq!(reply.status, 429, "{reply:?}");
        assert!(!reply.sets_user_id);
        let retry_after: i64 = reply
            .retry_after
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!((1..=15 * 60).contains(&retry_after), "{reply:?}");
    }
}

/// Bcrypt checks run so far on both instances together.
fn checks(deployment: &Deployment) -> u64 {
    deployment
        .instances
        .iter()
        .map(|i| {
            i.rocket()
                .state::<Hasher>()
                .expect("hasher")
                .verifications()
        })
        .sum()
}

/// 200 login forms with `attacker`'s token, for `username(i)`, sent at
/// once from `remote`, half to each instance; their statuses.
async fn guess_on_both(
    deployment: &Deployment,
    attacker: &Browser,
    username: impl Fn(usize) -> String,
    remote: std::net::SocketAddr,
) -> Vec<u16> {
    let [a, b] = &deployment.instances;
    let token = attacker.token(a).await;
    let cookies: Vec<Cookie<'static>> = attacker.cookies().values().cloned().collect();
    let guesses = (0..200).map(|i| {
        let instance = if i % 2 == 0 { a } else { b };
        let form = encode_form(&[
            ("username", &username(i)),
            ("password", "not the password"),
            ("csrf_token", &token),
        ]);
        let request = instance
            .post("/login")
            .cookies(cookies.clone())
            .remote(remote)
            .header(ContentType::Form)
            .body(form);
        async move { request.dispatch().await.status().code }
    });
    join_all(guesses).await
}

/// 200 wrong passwords for one name, sent at once, half to each instance:
/// the two share one budget of five checks.
async fn simultaneous_guesses_on_both_instances_get_exactly_the_limit() {
    let deployment = Deployment::launch().await;
    let [a, _] = &deployment.instances;
    assert_redirect(&Browser::default().register(a, "ada").await, "/");
    let before = checks(&deployment);
    let remote = ([203, 0, 113, 5], 40_000).into();
    let statuses = guess_on_both(&deployment, &Browser::default(), |_| "ada".into(), remote).await;
    let count = |code| statuses.iter().filter(|&&s| s == code).count();
    assert_eq!(
        checks(&deployment) - before,
        5,
        "bcrypt checks on both instances"
    );
    assert_eq!((count(401), count(429)), (5, 195));
}

/// 200 guesses at as many names from one address, half to each instance:
/// one budget for the address.
async fn simultaneous_guesses_from_one_address_on_both_instances_get_exactly_its_limit() {
    let deployment =
        Deployment::launch_with(|figment| figment.merge(("max_failed_logins_per_ip", 10))).await;
    let before = checks(&deployment);
    let remote = ([203, 0, 113, 5], 40_000).into();
    let statuses = guess_on_both(
        &deployment,
        &Browser::default(),
        |i| format!("user{i}"),
        remote,
    )
    .await;
    let count = |code| statuses.iter().filter(|&&s| s == code).count();
    assert_eq!(
        checks(&deployment) - before,
        10,
        "bcrypt checks on both instances"
    );
    assert_eq!((count(401), count(429)), (10, 190));
}
