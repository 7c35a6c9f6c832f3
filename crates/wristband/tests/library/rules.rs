//! The sign-in rules on their own: no request, no cookie, just a database,
//! a hasher, settings, a clock and a store.

use wristband::{migrate, Asker, Clock, DbPool, Error, Hasher, LoginOutcome, Rules, Settings};

use crate::common::{Memory, PASSWORD};

async fn pool(dir: &tempfile::TempDir) -> DbPool {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("rules.sqlite").display()
    );
    let config = rocket::figment::Figment::from(("url", url))
        .merge(("max_connections", 4))
        .merge(("connect_timeout", 5));
    let pool = <DbPool as rocket_db_pools::Pool>::init(&config)
        .await
        .expect("a pool");
    migrate(&pool).await.expect("wristband's tables");
    pool
}

#[rocket::async_test]
async fn five_wrong_passwords_then_the_right_one_is_refused() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let db = pool(&dir).await;
    let hasher = Hasher::new(4).expect("a hasher");
    let settings = Settings::default();
    let clock = Clock::manual(1_700_000_000);
    let store = Memory::with_ada();
    let rules = Rules::new(&db, &hasher, &settings, &clock, &store);
    let asker = Asker::default();

    match rules.login(&asker, "ada", PASSWORD).await {
        Ok(LoginOutcome::LoggedIn(person)) => assert_eq!(person.id, 7),
        other => panic!("{other:?}"),
    }
    for _ in 0..settings.max_failed_logins {
        assert!(matches!(
            rules.login(&asker, "ada", "wrong password").await,
            Ok(LoginOutcome::Invalid)
        ));
    }
    match rules.login(&asker, "ada", PASSWORD).await {
        Err(Error::Throttled { retry_after }) => {
            assert_eq!(retry_after, settings.throttle_window_secs());
        }
        other => panic!("{other:?}"),
    }
    // The window passes; the right password works again.
    clock.advance(settings.throttle_window_secs());
    assert!(matches!(
        rules.login(&asker, "ada", PASSWORD).await,
        Ok(LoginOutcome::LoggedIn(_))
    ));
    let (sign_ins, last_failure) = rules
        .recent_activity(&Memory::with_ada().people["ada"].0)
        .await
        .expect("history");
    assert_eq!(sign_ins.len(), 2);
    assert!(last_failure.is_some());
}

#[rocket::async_test]
async fn unknown_logins_cost_a_bcrypt_check_like_wrong_passwords() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let db = pool(&dir).await;
    let hasher = Hasher::new(4).expect("a hasher");
    let (settings, clock, store) = (Settings::default(), Clock::manual(1), Memory::with_ada());
    let rules = Rules::new(&db, &hasher, &settings, &clock, &store);
    let before = hasher.verifications();
    assert!(matches!(
        rules.login(&Asker::default(), "nobody", PASSWORD).await,
        Ok(LoginOutcome::Invalid)
    ));
    assert_eq!(hasher.verifications(), before + 1);
}
