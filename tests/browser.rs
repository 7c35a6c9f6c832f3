//! End-to-end tests in a real browser: headless Chromium, driven through
//! chromedriver, against the wristband binary in its release profile.
//!
//! Rocket's local client cannot show what only a browser decides: whether
//! it keeps a browser-session cookie until it closes, follows a 303 with the
//! right cookie, sends a cookie on a link from another site, or refuses a
//! cookie whose flags are wrong. These tests watch the browser do it.
//!
//! Needs `chromedriver` on the PATH and `/usr/bin/chromium` (Debian's
//! `chromium` and `chromium-driver`). Without them each test prints one line
//! saying it was skipped and passes, unless `WRISTBAND_REQUIRE_BROWSER=1`.
//! Screenshots of each flow's key page land in `target/screenshots/`.

mod browser_support;

use browser_support::{browser_available, App, Browser};
// fantoccini hands back the `cookie` crate's types, which Rocket re-exports.
use rocket::http::SameSite;
use rocket::time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery";

/// The page's flash message (shown above the content).
async fn flash(browser: &Browser) -> String {
    browser.text("main > .flash").await
}

/// Starts the app and a browser for `test`, or says why it cannot.
macro_rules! app_and_browser {
    ($test:literal) => {{
        if !browser_available($test) {
            return;
        }
        let app = App::start();
        let browser = Browser::launch(&app, $test).await;
        (app, browser)
    }};
}

#[tokio::test]
async fn registering_lands_on_home_showing_the_name() {
    let (_app, browser) = app_and_browser!("registering_lands_on_home_showing_the_name");

    browser.register("erin", PASSWORD).await;

    assert_eq!(browser.location().await, "/");
    assert_eq!(browser.status().await, 200);
    assert_eq!(
        flash(&browser).await,
        "Welcome, erin! Your account is ready."
    );
    assert_eq!(browser.text("h1 .username").await, "erin");
    assert_eq!(browser.text("#current-user").await, "erin");
    browser.screenshot("home").await;

    // The browser accepted the release profile's cookie over plain
    // http://127.0.0.1 (a secure context), and kept exactly these flags.
    let wristband = browser
        .cookie("__Host-user_id")
        .await
        .expect("the browser kept user_id");
    assert_eq!(wristband.path(), Some("/"));
    assert_eq!(wristband.http_only(), Some(true));
    assert_eq!(wristband.secure(), Some(true));
    assert_eq!(wristband.same_site(), Some(SameSite::Lax));
    assert_eq!(
        wristband.expires(),
        None,
        "a login without remember me is a browser-session cookie"
    );
    // Encrypted: the id is not readable in it.
    assert_ne!(wristband.value(), "1");
    // HttpOnly in effect: page scripts cannot read it.
    assert!(!browser.document_cookie().await.contains("user_id"));

    browser.close().await;
}

#[tokio::test]
async fn logging_out_shows_the_login_link() {
    let (_app, browser) = app_and_browser!("logging_out_shows_the_login_link");
    browser.register("frank", PASSWORD).await;

    browser.logout().await;

    assert_eq!(browser.location().await, "/");
    assert_eq!(browser.status().await, 200);
    assert_eq!(flash(&browser).await, "You have been logged out.");
    assert_eq!(browser.text("nav a[href='/login']").await, "Log in");
    assert_eq!(browser.count("#current-user").await, 0);
    assert!(
        browser.cookie("__Host-user_id").await.is_none(),
        "the wristband must be gone"
    );
    browser.screenshot("logged-out").await;

    // Gone for real: a protected page now sends the browser to log in.
    browser.goto("/profile").await;
    browser.wait_for_location("/login?next=%2Fprofile").await;

    browser.close().await;
}

#[tokio::test]
async fn anonymous_profile_visit_logs_in_and_comes_back() {
    let (_app, browser) = app_and_browser!("anonymous_profile_visit_logs_in_and_comes_back");
    browser.register("grace", PASSWORD).await;
    browser.logout().await;

    browser.goto("/profile").await;

    // The 303 was followed to the login page, which carries the flash.
    browser.wait_for_location("/login?next=%2Fprofile").await;
    assert_eq!(browser.status().await, 200);
    assert_eq!(flash(&browser).await, "Please log in to access this page.");
    assert_eq!(browser.value("input[name=next]").await, "/profile");
    browser.screenshot("login").await;

    browser.submit_login("grace", PASSWORD, false).await;

    browser.wait_for_location("/profile").await;
    assert_eq!(browser.status().await, 200);
    assert_eq!(browser.text("h1").await, "Your profile");
    assert_eq!(browser.text("dd.username").await, "grace");
    browser.screenshot("profile").await;

    browser.close().await;
}

#[tokio::test]
async fn wrong_password_says_so_and_keeps_the_username() {
    let (_app, browser) = app_and_browser!("wrong_password_says_so_and_keeps_the_username");
    browser.register("heidi", PASSWORD).await;
    browser.logout().await;
    browser.goto("/login").await;

    browser
        .submit_login("heidi", "not the password", true)
        .await;

    browser.wait_for_location("/login").await;
    assert_eq!(browser.status().await, 401);
    assert_eq!(
        browser.text(".form-error").await,
        "Invalid username or password."
    );
    assert_eq!(browser.title().await, "Error: Log in · wristband");
    // Focus is back on the form, each field says why it was refused, and
    // "remember me" is as it was typed.
    assert_eq!(browser.focused_id().await, "username");
    for field in ["#username", "#password"] {
        assert_eq!(browser.attr(field, "aria-invalid").await, "true");
        assert_eq!(browser.attr(field, "aria-describedby").await, "login-error");
    }
    assert!(browser
        .find("#remember")
        .await
        .is_selected()
        .await
        .expect("checkbox state"));
    assert_eq!(browser.value("#username").await, "heidi");
    assert_eq!(
        browser.value("#password").await,
        "",
        "a refused password is never sent back"
    );
    assert!(browser.cookie("__Host-user_id").await.is_none());
    browser.screenshot("wrong-password").await;

    browser.close().await;
}

#[tokio::test]
async fn remember_me_survives_a_browser_restart() {
    let (_app, mut browser) = app_and_browser!("remember_me_survives_a_browser_restart");
    browser.register("ivan", PASSWORD).await;
    browser.logout().await;

    browser.login("ivan", PASSWORD, true).await;

    let wristband = browser
        .cookie("__Host-user_id")
        .await
        .expect("user_id after login");
    let expires = wristband
        .expires_datetime()
        .expect("a remembered wristband has an expiry");
    let days = (expires - OffsetDateTime::now_utc()).as_seconds_f64() / 86_400.0;
    assert!(
        (29.9..=30.0).contains(&days),
        "remember_days is 30, the cookie lasts {days} days"
    );

    browser.restart().await;
    browser.goto("/").await;

    assert_eq!(browser.text("#current-user").await, "ivan");
    assert_eq!(browser.text("h1 .username").await, "ivan");
    // The `fresh` cookie was a browser-session cookie: this session is
    // remembered, not fresh.
    assert!(browser.cookie("__Host-fresh").await.is_none());
    browser.screenshot("after-restart").await;

    browser.close().await;
}

#[tokio::test]
async fn a_login_without_remember_me_ends_with_the_browser() {
    let (_app, mut browser) = app_and_browser!("a_login_without_remember_me_ends_with_the_browser");
    browser.register("judy", PASSWORD).await;
    browser.logout().await;
    browser.login("judy", PASSWORD, false).await;
    assert_eq!(browser.text("#current-user").await, "judy");

    browser.restart().await;
    browser.goto("/").await;

    assert_eq!(browser.text("nav a[href='/login']").await, "Log in");
    assert_eq!(browser.count("#current-user").await, 0);
    assert!(browser.cookie("__Host-user_id").await.is_none());
    browser.screenshot("after-restart").await;

    browser.close().await;
}

/// Fills in and submits the change-password form on `/settings`.
async fn change_password(browser: &Browser, current: &str, new: &str) {
    browser.goto("/settings").await;
    browser.fill("input[name=current_password]", current).await;
    browser.fill("input[name=new_password]", new).await;
    browser.fill("input[name=new_password_confirm]", new).await;
    browser
        .click_to_navigate("form[action='/settings/password'] [type=submit]")
        .await;
}

#[tokio::test]
async fn remembered_session_reauthenticates_before_changing_the_password() {
    let (_app, mut browser) =
        app_and_browser!("remembered_session_reauthenticates_before_changing_the_password");
    browser.register("kim", PASSWORD).await;
    browser.logout().await;
    browser.login("kim", PASSWORD, true).await;
    // A remembered session in a new browser process is not fresh.
    browser.restart().await;
    let new_password = "a brand new passphrase";

    change_password(&browser, PASSWORD, new_password).await;

    browser.wait_for_location("/reauth?next=%2Fsettings").await;
    assert_eq!(browser.status().await, 200);
    assert_eq!(
        flash(&browser).await,
        "Please reauthenticate to access this page."
    );
    browser.screenshot("reauth").await;
    // Password managers learn whose password this is.
    assert_eq!(
        browser
            .attr(
                "form[action='/reauth'] input[autocomplete=username]",
                "value"
            )
            .await,
        "kim"
    );
    // A wrong password first: the form says so at the field.
    browser
        .fill("input[name=password]", "not the password")
        .await;
    browser
        .click_to_navigate("form[action='/reauth'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 401);
    assert_eq!(
        browser.title().await,
        "Error: Confirm your password · wristband"
    );
    assert_eq!(browser.focused_id().await, "password");
    assert_eq!(browser.attr("#password", "aria-invalid").await, "true");
    assert_eq!(
        browser.attr("#password", "aria-describedby").await,
        "reauth-error"
    );
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click_to_navigate("form[action='/reauth'] [type=submit]")
        .await;
    browser.wait_for_location("/settings").await;

    // Fresh again: the change goes through.
    change_password(&browser, PASSWORD, new_password).await;
    browser.wait_for_location("/settings").await;
    assert_eq!(browser.status().await, 200);
    assert_eq!(flash(&browser).await, "Your password has been changed.");
    browser.screenshot("password-changed").await;
    browser.scroll_to("#delete-account").await;
    browser.screenshot("settings-end").await;

    browser.logout().await;
    browser.goto("/login").await;
    browser.submit_login("kim", PASSWORD, false).await;
    browser.wait_for_location("/login").await;
    assert_eq!(
        browser.status().await,
        401,
        "the old password must no longer work"
    );
    browser.submit_login("kim", new_password, false).await;
    browser.wait_for_location("/").await;
    assert_eq!(browser.text("#current-user").await, "kim");

    browser.close().await;
}

/// After a stale form is submitted: either it worked (the page at
/// `worked_at`), or it was refused with the clear 403 page. Never a 500.
/// Returns whether it worked.
async fn worked_or_refused_cleanly(browser: &Browser, worked_at: &str) -> bool {
    match browser.status().await {
        200 => {
            assert_eq!(browser.location().await, worked_at);
            true
        }
        403 => {
            assert_eq!(
                browser.text(".error-page h1").await,
                "This form has expired"
            );
            assert_eq!(
                browser.text(".error-page .message").await,
                "This form has expired or did not come from this site. Go back, reload the page and try again."
            );
            false
        }
        other => panic!("a stale form must work or fail with a clear 403, not {other}"),
    }
}

#[tokio::test]
async fn a_form_left_open_across_logout_and_login_works_or_fails_cleanly() {
    let (_app, browser) =
        app_and_browser!("a_form_left_open_across_logout_and_login_works_or_fails_cleanly");
    browser.register("liam", PASSWORD).await;

    // Tab one: a page with the "Log out" form, left open.
    browser.goto("/profile").await;
    let first_tab = browser.open_second_tab().await;
    // Tab two: log out and back in.
    browser.goto("/").await;
    browser.logout().await;
    browser.login("liam", PASSWORD, false).await;

    // Back in tab one, the old "Log out" form is submitted.
    browser.switch_to(first_tab).await;
    browser
        .click_to_navigate("form[action='/logout'] button[type=submit]")
        .await;
    if worked_or_refused_cleanly(&browser, "/").await {
        assert_eq!(flash(&browser).await, "You have been logged out.");
        assert!(browser.cookie("__Host-user_id").await.is_none());
    }
    browser.screenshot("stale-logout").await;

    // Same again with the login form: opened while logged out, then the
    // other tab logs in and out before this one is submitted.
    browser.goto("/login").await;
    let login_tab = browser.open_second_tab().await;
    browser.login("liam", PASSWORD, false).await;
    browser.logout().await;
    browser.switch_to(login_tab).await;
    browser.submit_login("liam", PASSWORD, false).await;
    if worked_or_refused_cleanly(&browser, "/").await {
        assert_eq!(browser.text("#current-user").await, "liam");
    }
    browser.screenshot("stale-login").await;

    browser.close().await;
}

#[tokio::test]
async fn the_login_form_works_with_the_keyboard_alone() {
    let (_app, browser) = app_and_browser!("the_login_form_works_with_the_keyboard_alone");
    browser.register("mia", PASSWORD).await;
    browser.logout().await;
    const TAB: &str = "\u{e004}";
    const ENTER: &str = "\u{e007}";

    browser.goto("/login").await;

    // `autofocus` puts the cursor in the username field.
    assert_eq!(browser.focused_id().await, "username");
    browser.press("mia").await;
    browser.press(TAB).await;
    assert_eq!(browser.focused_id().await, "password");
    browser.press(PASSWORD).await;
    browser.press(TAB).await;
    assert_eq!(browser.focused_id().await, "remember");
    browser.press(" ").await;
    assert!(browser
        .find("#remember")
        .await
        .is_selected()
        .await
        .expect("checkbox state"));
    browser.press(TAB).await;
    assert_eq!(
        browser.focused_text().await,
        "Log in",
        "Tab after the checkbox reaches the submit button"
    );
    browser.screenshot("keyboard-ready").await;
    browser.mark_page().await;
    browser.press(ENTER).await;
    browser.wait_for_new_page().await;

    browser.wait_for_location("/").await;
    assert_eq!(browser.text("#current-user").await, "mia");
    let wristband = browser
        .cookie("__Host-user_id")
        .await
        .expect("user_id after login");
    assert!(
        wristband.expires_datetime().is_some(),
        "the checkbox ticked with Space was sent"
    );

    browser.close().await;
}

#[tokio::test]
async fn a_link_from_another_site_arrives_logged_in() {
    let (app, browser) = app_and_browser!("a_link_from_another_site_arrives_logged_in");
    browser.register("noor", PASSWORD).await;

    // A page of no site at all (an opaque origin) links to the profile:
    // following it is a cross-site, top-level navigation.
    let link = format!(
        "data:text/html,<a id=go href='{}'>wristband profile</a>",
        app.url("/profile")
    );
    browser.goto_url(&link).await;
    browser.click_to_navigate("#go").await;

    // `SameSite=Lax` sends the wristband along; `Strict` would not, and the
    // browser would land on the login page instead.
    browser.wait_for_location("/profile").await;
    assert_eq!(browser.text("dd.username").await, "noor");

    browser.close().await;
}

/// Submits the registration form with these values.
async fn submit_registration(browser: &Browser, username: &str, password: &str, confirm: &str) {
    browser.goto("/register").await;
    browser.fill("#username", username).await;
    browser.fill("#password", password).await;
    browser.fill("#password_confirm", confirm).await;
    browser
        .click_to_navigate("form[action='/register'] button[type=submit]")
        .await;
}

#[tokio::test]
async fn a_failed_registration_focuses_the_first_wrong_field() {
    let (_app, browser) = app_and_browser!("a_failed_registration_focuses_the_first_wrong_field");

    // The username is fine; the password is short and the confirmation differs.
    submit_registration(&browser, "olga", "short", "different").await;

    assert_eq!(browser.status().await, 422);
    assert_eq!(browser.title().await, "Error: Create account · wristband");
    assert_eq!(browser.focused_id().await, "password");
    assert_eq!(browser.attr("#password", "aria-invalid").await, "true");
    assert_eq!(
        browser.attr("#password", "aria-describedby").await,
        "password-error password-hint"
    );
    assert_eq!(
        browser.text("#password-error").await,
        "Use at least 8 characters."
    );
    assert_eq!(
        browser.attr("#password_confirm", "aria-invalid").await,
        "true"
    );
    assert_eq!(browser.attr("#username", "aria-invalid").await, "");
    assert_eq!(
        browser.attr("#username", "aria-describedby").await,
        "username-hint"
    );
    assert_eq!(browser.value("#username").await, "olga");
    assert_eq!(
        browser
            .attr("nav a[href='/register']", "aria-current")
            .await,
        "page"
    );
    // What axe does not measure: the focus ring and the field borders
    // reach 3:1 against the card (WCAG 1.4.11).
    let ring = browser.contrast("#password", "outline-color").await;
    assert!(ring >= 3.0, "the focus ring has {ring:.2}:1");
    let border = browser.contrast("#username", "border-top-color").await;
    assert!(border >= 3.0, "the field border has {border:.2}:1");
    for width in [320, 390, 1280] {
        browser.screenshot_at("failed", width).await;
    }

    // Only the confirmation is wrong: focus goes there.
    submit_registration(&browser, "olga", PASSWORD, "not the same one").await;
    assert_eq!(browser.status().await, 422);
    assert_eq!(browser.focused_id().await, "password_confirm");
    assert_eq!(
        browser.attr("#password_confirm", "aria-describedby").await,
        "password_confirm-error"
    );

    // A taken username: back to the username.
    browser.register("olga", PASSWORD).await;
    browser.logout().await;
    submit_registration(&browser, "OLGA", PASSWORD, PASSWORD).await;
    assert_eq!(browser.status().await, 409);
    assert_eq!(browser.focused_id().await, "username");
    assert_eq!(
        browser.attr("#username", "aria-describedby").await,
        "username-error username-hint"
    );

    browser.close().await;
}

#[tokio::test]
async fn settings_forms_bring_their_errors_into_view() {
    let (_app, browser) = app_and_browser!("settings_forms_bring_their_errors_into_view");
    browser.register("pia", PASSWORD).await;
    browser.logout().await;
    browser.login("pia", PASSWORD, false).await;
    browser.goto("/settings").await;

    // The sign-in history names the browser as a person would.
    assert_eq!(
        browser.text(".history td[data-label=Browser]").await,
        "Chrome on Linux"
    );
    for width in [320, 390, 1280] {
        browser.screenshot_at("settings", width).await;
    }
    for form in ["/settings/password", "/settings/delete"] {
        let css = format!("form[action='{form}'] input[autocomplete=username]");
        assert_eq!(browser.attr(&css, "value").await, "pia", "{form}");
    }

    // On a phone, the delete form is far down the page. The checks resize
    // the window, so this one submission is checked afterwards.
    browser.set_checks(false);
    browser.resize(390, 844).await;
    browser.fill("#delete_password", "not my password").await;
    browser
        .click_to_navigate("form[action='/settings/delete'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 401);
    assert_eq!(browser.title().await, "Error: Settings · wristband");
    assert_eq!(browser.focused_id().await, "delete_password");
    assert!(browser.in_view("#delete_password").await);
    assert!(browser.in_view("#delete_password-error").await);
    assert_eq!(
        browser.attr("#delete_password", "aria-describedby").await,
        "delete_password-error"
    );
    browser.screenshot("delete-refused-390").await;
    browser.set_checks(true);
    browser.check_page().await;

    // A new password that is too short: focus on it, not on the top.
    browser.goto("/settings").await;
    browser.fill("#current_password", PASSWORD).await;
    browser.fill("#new_password", "short").await;
    browser.fill("#new_password_confirm", "short").await;
    browser
        .click_to_navigate("form[action='/settings/password'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 422);
    assert_eq!(browser.focused_id().await, "new_password");
    assert_eq!(
        browser.attr("#new_password", "aria-describedby").await,
        "new_password-error new_password-hint"
    );

    // The wrong current password.
    change_password(&browser, "not my password", "a brand new passphrase").await;
    assert_eq!(browser.status().await, 401);
    assert_eq!(browser.focused_id().await, "current_password");

    browser.close().await;
}

#[tokio::test]
async fn error_pages_keep_the_visitor_signed_in() {
    let (_app, browser) = app_and_browser!("error_pages_keep_the_visitor_signed_in");
    browser.register("quinn", PASSWORD).await;

    browser.goto("/no/such/page").await;
    assert_eq!(browser.status().await, 404);
    assert_eq!(browser.title().await, "Error: Page not found · wristband");
    assert_eq!(browser.text("#current-user").await, "quinn");
    assert_eq!(browser.text(".error-page h1").await, "Page not found");
    assert_eq!(browser.text("#next-step").await, "Go to the home page");
    assert_eq!(browser.attr("#next-step", "href").await, "/");

    // A form whose token no longer matches: refused, still signed in, and
    // the way back leads to the form.
    browser.goto("/settings").await;
    browser
        .run("document.querySelector(\"form[action='/settings/delete'] input[name=csrf_token]\").value = 'stale';")
        .await;
    browser.fill("#delete_password", PASSWORD).await;
    browser
        .click_to_navigate("form[action='/settings/delete'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 403);
    assert_eq!(
        browser.title().await,
        "Error: This form has expired · wristband"
    );
    assert_eq!(browser.text("#current-user").await, "quinn");
    assert_eq!(
        browser.text(".error-page h1").await,
        "This form has expired"
    );
    assert_eq!(browser.text("#next-step").await, "Back to the form");
    assert_eq!(browser.attr("#next-step", "href").await, "/settings");
    browser.screenshot("refused-form").await;
    browser.click_to_navigate("#next-step").await;
    browser.wait_for_location("/settings").await;
    assert_eq!(browser.text("#current-user").await, "quinn");

    browser.close().await;
}

#[tokio::test]
async fn too_many_attempts_says_how_long_to_wait() {
    let (_app, browser) = app_and_browser!("too_many_attempts_says_how_long_to_wait");
    browser.register("rosa", PASSWORD).await;
    browser.logout().await;

    // The same refused page over and over: checked once, at the end.
    browser.set_checks(false);
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 60, "no 429 after 60 failed logins");
        browser.goto("/login").await;
        browser
            .submit_login("rosa", "not the password", false)
            .await;
        match browser.status().await {
            401 => continue,
            429 => break,
            other => panic!("a failed login answers 401 or 429, not {other}"),
        }
    }
    browser.set_checks(true);
    browser.check_page().await;

    assert_eq!(
        browser.title().await,
        "Error: Too many attempts · wristband"
    );
    assert_eq!(browser.text(".error-page h1").await, "Too many attempts");
    let message = browser.text(".error-page .message").await;
    assert!(
        message.starts_with("Too many failed attempts. For your security, try again in "),
        "{message}"
    );
    assert_eq!(browser.text("#next-step").await, "Go to the login page");
    assert_eq!(browser.attr("#next-step", "href").await, "/login");
    assert_eq!(browser.text("nav a[href='/login']").await, "Log in");
    for width in [320, 390, 1280] {
        browser.screenshot_at("429", width).await;
    }

    browser.close().await;
}

#[tokio::test]
async fn a_long_username_keeps_the_header_tidy() {
    let (_app, browser) = app_and_browser!("a_long_username_keeps_the_header_tidy");
    let name = "a_rather_long_username_of_32_chr";
    assert_eq!(name.len(), 32);

    browser.register(name, PASSWORD).await;

    assert_eq!(browser.text("#current-user").await, name);
    // One row of 60 px on a desktop; on a phone, brand and links each get one.
    for (width, most) in [(320, 100.0), (390, 100.0), (1280, 60.0)] {
        browser.resize(width, 800).await;
        // The links stay on one line (under the brand on narrow screens).
        let links = browser.height(".nav-links").await;
        let header = browser.height(".nav").await;
        assert!(
            links < 48.0,
            "the links wrap at {width} px: {links} px high"
        );
        assert!(
            header <= most,
            "the header is {header} px high at {width} px"
        );
        browser.screenshot(&format!("header-{width}")).await;
    }

    browser.close().await;
}

#[tokio::test]
async fn ending_a_session_from_settings_signs_the_other_browser_out() {
    let (app, laptop) =
        app_and_browser!("ending_a_session_from_settings_signs_the_other_browser_out");
    laptop.register("rosa", PASSWORD).await;
    let phone = Browser::launch_named(
        &app,
        "ending_a_session_from_settings_signs_the_other_browser_out",
        "phone",
    )
    .await;
    phone.login("rosa", PASSWORD, true).await;
    assert_eq!(phone.text("#current-user").await, "rosa");

    laptop.goto("/settings").await;
    assert_eq!(laptop.count("#sessions tbody tr").await, 2);
    assert_eq!(laptop.count("#sessions tr.this-browser").await, 1);
    assert!(laptop
        .text("#sessions tr.this-browser")
        .await
        .contains("this browser"));
    let other = laptop.text("#sessions tbody tr:not(.this-browser)").await;
    assert!(other.contains("Chrome on Linux"), "{other:?}");
    for width in [320, 390, 1280] {
        laptop.screenshot_at("sessions", width).await;
    }

    laptop
        .click_to_navigate("#sessions tbody tr:not(.this-browser) button[type=submit]")
        .await;
    laptop.wait_for_location("/settings").await;
    assert_eq!(
        flash(&laptop).await,
        "That session has ended: it is signed out."
    );
    assert_eq!(laptop.count("#sessions tbody tr").await, 1);
    assert_eq!(laptop.text("#current-user").await, "rosa");

    // The phone still holds its remembered wristband; its next click finds
    // it refused and lands on the login page.
    assert!(phone.cookie("__Host-user_id").await.is_some());
    phone.click_to_navigate("nav a[href='/profile']").await;
    phone.wait_for_location("/login?next=%2Fprofile").await;
    assert_eq!(flash(&phone).await, "Please log in to access this page.");
    assert!(phone.cookie("__Host-user_id").await.is_none());
    phone.screenshot("phone-signed-out").await;

    phone.close().await;
    laptop.close().await;
}

/// `GET path` on the app with only this bearer token (no browser, no
/// cookies): the status code.
fn api_status(app: &App, path: &str, token: &str) -> u16 {
    use std::io::{Read, Write};
    let origin = app.url("");
    let address = origin.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the app");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_api_token_is_made_shown_once_used_and_revoked() {
    let (app, browser) = app_and_browser!("an_api_token_is_made_shown_once_used_and_revoked");
    browser.register("tess", PASSWORD).await;
    browser.goto("/settings").await;

    // A nameless token is refused, with focus on the field that says why.
    browser
        .click_to_navigate("form[action='/settings/tokens'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 422);
    assert_eq!(browser.focused_id().await, "token_name");
    assert_eq!(
        browser.attr("#token_name", "aria-describedby").await,
        "token_name-error"
    );

    browser.fill("#token_name", "deploy script").await;
    browser
        .click_to_navigate("form[action='/settings/tokens'] [type=submit]")
        .await;
    assert_eq!(browser.status().await, 200);
    let token = browser.text("#new-token code.token").await;
    assert!(token.starts_with("wb_") && token.len() == 67, "{token:?}");
    // A 67-character token must not push a phone's page sideways (checked
    // at 320 px with every page state), nor fail axe.
    for width in [320, 390, 1280] {
        browser.screenshot_at("token-shown", width).await;
    }
    assert_eq!(api_status(&app, "/api/me", &token), 200);

    // Shown once: the settings page lists it by name only.
    browser.goto("/settings").await;
    assert_eq!(browser.count("#new-token").await, 0);
    assert!(browser
        .text("#tokens tbody")
        .await
        .contains("deploy script"));
    browser
        .click_to_navigate("#tokens tbody button[type=submit]")
        .await;
    browser.wait_for_location("/settings").await;
    assert_eq!(
        flash(&browser).await,
        "The token has been revoked: it no longer works."
    );
    assert_eq!(api_status(&app, "/api/me", &token), 401);
    browser.close().await;
}
