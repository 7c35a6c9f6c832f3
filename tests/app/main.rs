//! The app's integration tests, one module per feature, in one test binary:
//! each binary links Rocket and sqlx again, and CI has two cores. (The
//! browser tests are a binary of their own, `tests/browser.rs`: they drive
//! Chromium and the release build, at their own pace.)
//!
//! Tests are named `<feature>::<backend>::<behaviour>`, e.g.
//! `sessions::postgres::a_replayed_cookie_is_anonymous_after_logout`; run
//! one feature with `cargo test --test app sessions::`.

// First, so that its `backend_tests!` and `postgres_tests!` macros are in
// scope in every module below.
#[macro_use]
mod common;

mod account;
mod attempt_binds;
mod cli;
mod csrf;
mod faults;
mod freshness;
mod guards;
mod input;
mod instances;
mod login;
mod password_queue;
mod redirect_props;
mod register;
mod retention;
mod schema;
mod sessions;
mod standalone;
mod throttle;
mod tokens;
