//! A host of the smallest kind: a `people` table (i64 ids, logging in by
//! name) or an in-memory store, and a scratch SQLite database per test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::form::Form;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, post, routes, Build, FromForm, Request, Rocket};
use rocket_db_pools::Database;
use sqlx::AnyConnection;
use wristband::{
    AuthUser, Authenticator, Credentials, CsrfForm, CsrfToken, CurrentUser, DbPool, Error,
    LoginOutcome, PasswordHash, Presentation, StoreError, Table, TokenOnly, UserStore, UserTable,
    Wristband,
};

pub const PASSWORD: &str = "correct horse battery";

#[derive(Database)]
#[database("people")]
pub struct Db(DbPool);

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub name: String,
}

impl AuthUser for Person {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    fn login(&self) -> &str {
        &self.name
    }
}

impl UserTable for Person {
    const TABLE: &'static str = "people";
    const LOGIN: &'static str = "name";
    const ACTIVE: &'static str = "active = 1";
}

pub type People = Table<Person>;

/// A store that is no table at all: a map, which can be told to fail.
pub struct Memory {
    pub people: HashMap<String, (Person, PasswordHash)>,
    pub failing: Arc<AtomicBool>,
    /// Whether wristband's bearer tokens are on; an `X-Key` header of the
    /// host's own scheme always is.
    pub tokens: bool,
}

impl Memory {
    pub fn with_ada() -> Memory {
        let hash = PasswordHash::new(bcrypt::hash(PASSWORD, 4).expect("a hash"));
        let ada = Person {
            id: 7,
            name: "ada".into(),
        };
        Memory {
            people: HashMap::from([("ada".to_string(), (ada, hash))]),
            failing: Arc::default(),
            tokens: true,
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        Ok(())
    }
}

#[rocket::async_trait]
impl UserStore for Memory {
    type User = Person;

    async fn load(&self, _db: &mut AnyConnection, id: &i64) -> Result<Option<Person>, StoreError> {
        self.check()?;
        Ok(self
            .people
            .values()
            .find(|(person, _)| person.id == *id)
            .map(|(person, _)| person.clone()))
    }

    async fn find_login(
        &self,
        _db: &mut AnyConnection,
        login: &str,
    ) -> Result<Option<Credentials<Person>>, StoreError> {
        self.check()?;
        Ok(self.people.get(login).map(|(person, hash)| Credentials {
            user: person.clone(),
            password_hash: hash.clone(),
            active: true,
        }))
    }

    fn presented(&self, req: &Request<'_>) -> Presentation {
        if let Some(key) = req.headers().get_one("X-Key") {
            return Presentation::Custom(key.to_string());
        }
        if self.tokens {
            wristband::bearer_token(req)
        } else {
            Presentation::Nothing
        }
    }

    async fn load_presented(
        &self,
        _db: &mut AnyConnection,
        key: &str,
        _now: i64,
    ) -> Result<Option<Person>, StoreError> {
        self.check()?;
        Ok((key == "ada-key").then(|| self.people["ada"].0.clone()))
    }
}

/// Debug-profile settings on a scratch SQLite file, bcrypt at its cheapest.
pub fn figment(dir: &tempfile::TempDir) -> Figment {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("people.sqlite").display()
    );
    Figment::from(rocket::Config::debug_default())
        .merge(("databases.people.url", url))
        .merge(("databases.people.max_connections", 8))
        .merge(("bcrypt_cost", 4))
        .merge(("log_level", "off"))
}

/// The `people` table, with ada (active) and bob (not).
pub fn people_table() -> AdHoc {
    AdHoc::try_on_ignite("people", |rocket| async {
        let Some(db) = Db::fetch(&rocket) else {
            return Err(rocket);
        };
        let hash = bcrypt::hash(PASSWORD, 4).expect("a hash");
        let made = async {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS people (id BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                 password_hash TEXT NOT NULL, active BIGINT NOT NULL)",
            )
            .execute(&***db)
            .await?;
            sqlx::query("INSERT INTO people VALUES (1, 'ada', $1, 1), (2, 'bob', $1, 0)")
                .bind(hash)
                .execute(&***db)
                .await
        };
        match made.await {
            Ok(_) => Ok(rocket),
            Err(_) => Err(rocket),
        }
    })
}

#[derive(FromForm)]
pub struct Login {
    name: String,
    password: String,
    remember: bool,
}

macro_rules! host_routes {
    ($store:ty) => {{
        #[get("/private")]
        fn private(user: CurrentUser<$store>) -> String {
            format!("hello {}", user.name)
        }

        #[get("/maybe")]
        fn maybe(user: Option<CurrentUser<$store>>) -> String {
            user.map_or("stranger".into(), |u| u.name.clone())
        }

        #[get("/token")]
        fn token(token: CsrfToken) -> String {
            token.as_str().to_string()
        }

        #[post("/login", data = "<form>")]
        async fn login(
            form: Form<Login>,
            auth: Authenticator<'_, $store>,
        ) -> Result<(Status, &'static str), Error> {
            Ok(
                match auth
                    .login(&form.name, &form.password, form.remember)
                    .await?
                {
                    LoginOutcome::LoggedIn(_) => (Status::Ok, "in"),
                    LoginOutcome::Invalid => (Status::Unauthorized, "invalid"),
                    LoginOutcome::Deactivated => (Status::Forbidden, "deactivated"),
                },
            )
        }

        #[post("/logout", data = "<_form>")]
        async fn logout(
            _form: CsrfForm<TokenOnly>,
            auth: Authenticator<'_, $store>,
        ) -> Result<&'static str, Error> {
            auth.logout(None).await?;
            Ok("out")
        }

        #[get("/api/whoami")]
        fn whoami(user: CurrentUser<$store>) -> String {
            user.name.clone()
        }

        routes![private, maybe, token, login, logout, whoami]
    }};
}

/// A host on the `people` table with this fairing.
pub fn people_app(dir: &tempfile::TempDir, wristband: Wristband<People>) -> Rocket<Build> {
    people_app_on(figment(dir), wristband)
}

/// The same, on a figment of the test's.
pub fn people_app_on(figment: Figment, wristband: Wristband<People>) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(Db::init())
        .attach(people_table())
        .attach(wristband)
        .mount("/", host_routes!(People))
}

/// A host on the in-memory store.
pub fn memory_app(dir: &tempfile::TempDir, store: Memory) -> Rocket<Build> {
    rocket::custom(figment(dir))
        .attach(Db::init())
        .attach(Wristband::new::<Db>(store))
        .mount("/", host_routes!(Memory))
}

pub async fn log_in(client: &Client, name: &str, password: &str) -> Status {
    client
        .post("/login")
        .header(ContentType::Form)
        .body(format!(
            "name={name}&password={}",
            password.replace(' ', "+")
        ))
        .dispatch()
        .await
        .status()
}
