//! The machinery behind `tests/browser.rs`: the real wristband binary on a
//! loopback port, and headless Chromium driven through chromedriver.
//!
//! Every test gets its own server, SQLite file, chromedriver and Chromium
//! profile, all under one temporary directory, so tests can run in
//! parallel with each other and with other test binaries. Each process is
//! killed when its handle drops, also when the test panics.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Set to `1` to make a missing browser a failure rather than a skip (CI).
const REQUIRE_BROWSER: &str = "WRISTBAND_REQUIRE_BROWSER";
/// A fixed key, so that the release profile starts (it refuses to run
/// without one) and cookies stay readable across the test's browser restarts.
/// Never used outside these tests.
const SECRET_KEY: &str = "f5a7c6e9b8d3a1f0e2c4b6a8d0f1e3c5a7b9d2f4e6c8a0b1d3f5e7c9a2b4d6f8";
/// Generous for a loaded two-core machine; a healthy run needs a fraction.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// axe-core, the accessibility engine (a vendored test fixture, see its README).
const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");
/// The widths every page state is checked at: axe at a phone's and a
/// desktop's width, and no sideways scrolling at WCAG's reflow width.
const AXE_WIDTHS: [(u32, u32); 2] = [(390, 844), (1280, 800)];
const REFLOW_WIDTH: (u32, u32) = (320, 640);

/// Whether the browser tests can run here. When they cannot, prints one
/// line saying why and returns `false`, unless `WRISTBAND_REQUIRE_BROWSER=1`,
/// which turns the missing browser into a failure.
pub fn browser_available(test: &str) -> bool {
    let missing = if find_on_path("chromedriver").is_none() {
        Some("chromedriver is not on the PATH".to_string())
    } else if !Path::new(CHROMIUM).is_file() {
        Some(format!("{CHROMIUM} does not exist"))
    } else {
        None
    };
    let Some(reason) = missing else {
        return true;
    };
    if std::env::var(REQUIRE_BROWSER).is_ok_and(|v| v == "1") {
        panic!("{test}: {reason}, and {REQUIRE_BROWSER}=1 requires the browser tests to run");
    }
    // Straight to stderr: libtest captures `println!` of passing tests, and
    // a skip nobody sees looks like a pass.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: {reason} (install chromium and chromium-driver)"
    );
    false
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Waits up to `timeout` for `file` to contain a line with `marker`, and
/// returns the rest of that line. Gives up early when `child` exits.
fn wait_for_line(
    child: &mut Child,
    file: &Path,
    marker: &str,
    timeout: Duration,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = fs::read_to_string(file).unwrap_or_default();
        if let Some(rest) = text
            .lines()
            .find_map(|line| line.split_once(marker).map(|(_, rest)| rest))
        {
            return Ok(rest.trim().to_string());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "exited with {status} before saying {marker:?}:\n{text}"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "did not say {marker:?} within {timeout:?}:\n{text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The wristband binary, serving one test.
///
/// It runs as its own process, not in the test's process: that is how it is
/// deployed, `ROCKET_PROFILE=release` then picks the `[release]` table of the
/// real Rocket.toml (secret key required, `Secure` cookies) exactly as in
/// production, and the browser cannot be talking to anything but what
/// `cargo run --release` would serve. The port is 0, so the kernel picks a
/// free one and there is no race with parallel tests; the server's own launch
/// line says which.
pub struct App {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    /// Holds the database, the server log and the browser profile.
    pub dir: TempDir,
}

impl App {
    pub fn start() -> App {
        let dir = tempfile::Builder::new()
            .prefix("wristband-browser-")
            .tempdir()
            .expect("temporary directory");
        let log = dir.path().join("server.log");
        let log_file = File::create(&log).expect("server log");
        let db = dir.path().join("wristband.sqlite");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_wristband"))
            // Run from the temporary directory so nothing lands in the source tree.
            .current_dir(dir.path())
            .env("ROCKET_CONFIG", manifest.join("Rocket.toml"))
            .env("ROCKET_PROFILE", "release")
            .env("ROCKET_SECRET_KEY", SECRET_KEY)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", "0")
            .env(
                "ROCKET_DATABASES",
                format!("{{wristband={{url=\"sqlite://{}\"}}}}", db.display()),
            )
            // The lowest cost the release profile accepts.
            .env("ROCKET_BCRYPT_COST", "10")
            // The release profile logs only critical messages; the launch line
            // (which carries the port) and request lines help when a test fails.
            .env("ROCKET_LOG_LEVEL", "normal")
            .env("ROCKET_CLI_COLORS", "false")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("server log"))
            .stderr(log_file)
            .spawn()
            .expect("start the wristband binary");
        let launched = wait_for_line(
            &mut child,
            &log,
            "Rocket has launched from ",
            STARTUP_TIMEOUT,
        );
        let origin = match launched {
            Ok(origin) => origin,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("wristband {why}");
            }
        };
        assert!(
            origin.starts_with("http://127.0.0.1:"),
            "unexpected launch address {origin}"
        );
        App {
            child,
            log,
            origin,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // Shown with the failing test's output: what the server saw.
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- last lines of the server log ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// chromedriver, in a process group of its own so that it and every
/// Chromium process it starts can be killed together.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(dir: &Path, name: &str) -> Driver {
        use std::os::unix::process::CommandExt;

        let log = dir.join(format!("chromedriver-{name}.log"));
        let log_file = File::create(&log).expect("chromedriver log");
        let mut child = Command::new("chromedriver")
            // Port 0: chromedriver picks a free port and says which.
            .arg("--port=0")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("chromedriver log"))
            .stderr(log_file)
            .spawn()
            .expect("start chromedriver");
        let port = wait_for_line(
            &mut child,
            &log,
            "was started successfully on port ",
            STARTUP_TIMEOUT,
        )
        .map(|rest| rest.trim_end_matches('.').to_string());
        let driver = |port: String| Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        match port {
            Ok(port) if port.parse::<u16>().is_ok() => driver(port),
            Ok(other) => {
                drop(driver(other.clone()));
                panic!("chromedriver reported port {other:?}");
            }
            Err(why) => {
                drop(driver(String::new()));
                panic!("chromedriver {why}");
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is the leader's pid (process_group(0)). SIGKILL to the
        // whole group also ends Chromium when the test panicked before it
        // could close the browser; Chromium stays in its driver's group.
        let group = i32::try_from(self.child.id()).expect("pid fits in i32");
        // SAFETY: kill(2) takes no pointers; a negative pid names the group
        // this test created, and nothing else.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Headless Chromium on a profile directory of its own, which outlives
/// browser restarts so the cookie store on disk can be tested.
pub struct Browser {
    client: Option<Client>,
    chromium_pid: u32,
    profile: PathBuf,
    screenshots: PathBuf,
    test: String,
    origin: String,
    /// Whether each page the browser arrives at is checked (see
    /// [`Browser::check_page`]); off only while a test repeats one page.
    checks: std::cell::Cell<bool>,
    // Dropped last: killing the driver's group is the backstop for everything.
    driver: Driver,
}

impl Browser {
    /// A fresh browser with an empty profile, pointed at `app`.
    pub async fn launch(app: &App, test: &str) -> Browser {
        Browser::launch_named(app, test, "main").await
    }

    /// Another browser on the same app, with a profile (and so cookies) of
    /// its own: a second device of the same person, say.
    pub async fn launch_named(app: &App, test: &str, name: &str) -> Browser {
        let driver = Driver::start(app.dir.path(), name);
        let profile = app.dir.path().join(format!("chromium-profile-{name}"));
        let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target directory")
            .join("screenshots");
        fs::create_dir_all(&screenshots).expect("create target/screenshots");
        let (client, chromium_pid) = open_session(&driver.url, &profile).await;
        Browser {
            client: Some(client),
            chromium_pid,
            profile,
            screenshots,
            test: test.to_string(),
            origin: app.origin.clone(),
            checks: std::cell::Cell::new(true),
            driver,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is open")
    }

    /// Quits Chromium the way a person closing its last window does, and
    /// starts a new Chromium process on the same profile directory.
    ///
    /// The WebDriver "delete session" command makes chromedriver close the
    /// browser through DevTools (`Browser.close`), an orderly shutdown in
    /// which Chromium writes its cookie store to disk. Killing it would lose
    /// whatever was not flushed yet (Chromium writes cookies in batches,
    /// every few seconds). The old process must be gone before the new one
    /// starts: two Chromiums cannot share a profile.
    pub async fn restart(&mut self) {
        let old_pid = self.chromium_pid;
        let client = self.client.take().expect("the browser is open");
        client.close().await.expect("close the browser");
        wait_until_gone(old_pid).await;
        assert!(
            self.profile.join("Default").join("Cookies").is_file(),
            "Chromium left no cookie store in {}",
            self.profile.display()
        );
        let (client, pid) = open_session(&self.driver.url, &self.profile).await;
        assert_ne!(pid, old_pid, "the restarted browser must be a new process");
        self.client = Some(client);
        self.chromium_pid = pid;
    }

    /// Closes the browser in an orderly way; the drop backstop is for panics.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the browser");
            wait_until_gone(self.chromium_pid).await;
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client()
            .goto(&format!("{}{path}", self.origin))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.check_page().await;
    }

    /// Opens an absolute URL (another site, a `data:` page).
    pub async fn goto_url(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The current page's path and query, e.g. `/login?next=%2Fprofile`.
    pub async fn location(&self) -> String {
        let url = self.client().current_url().await.expect("current URL");
        assert_eq!(
            url.origin().ascii_serialization(),
            self.origin,
            "left the app: {url}"
        );
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits for the browser to arrive at `expected` (path and query), which
    /// covers the moment between a click and the navigation it starts.
    pub async fn wait_for_location(&self, expected: &str) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let now = self.location().await;
            if now == expected {
                return;
            }
            if Instant::now() > deadline {
                assert_eq!(now, expected, "the browser did not arrive");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The HTTP status of the response that produced the current page (the
    /// last one, after redirects), as the browser's Navigation Timing saw it.
    pub async fn status(&self) -> u16 {
        let status = self
            .client()
            .execute(
                "return performance.getEntriesByType('navigation')[0].responseStatus;",
                vec![],
            )
            .await
            .expect("read the navigation status");
        status
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("no status in {status}"))
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client()
            .wait()
            .at_most(WAIT_TIMEOUT)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("find {css:?} on {}: {e}", self.location_or_unknown().await),
        }
    }

    async fn location_or_unknown(&self) -> String {
        match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "an unknown page".to_string(),
        }
    }

    /// How many elements match `css`, without waiting for one to appear.
    pub async fn count(&self, css: &str) -> usize {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .len()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// The current value of a form field (the property, not the attribute).
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear field");
        field.send_keys(text).await.expect("type into field");
    }

    /// Clicks what submits a form or follows a link, and waits for the page
    /// it leads to (after any redirects) to have loaded.
    pub async fn click_to_navigate(&self, css: &str) {
        let target = self.find(css).await;
        self.mark_page().await;
        target
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css:?}: {e}"));
        self.wait_for_new_page().await;
    }

    /// Tags the current document, so [`Self::wait_for_new_page`] can tell
    /// it from the next one. A click does not wait for the navigation it
    /// starts, and the old page (even its URL, when a form posts to the page
    /// it is on) would otherwise pass for the new one.
    pub async fn mark_page(&self) {
        self.client()
            .execute("window.wristbandOldPage = true;", vec![])
            .await
            .expect("mark the page");
    }

    /// Waits until the marked document has been replaced and the new one
    /// has loaded.
    pub async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            // Errors are expected while the navigation is under way.
            let loaded = self
                .client()
                .execute(
                    "return window.wristbandOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                if self.location_is_ours().await {
                    self.check_page().await;
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page loaded within {WAIT_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Presses keys on whatever has focus, as a keyboard does: no element is
    /// targeted (unlike `send_keys`, which focuses its element first).
    pub async fn press(&self, keys: &str) {
        let actions = keys
            .chars()
            .fold(KeyActions::new("keyboard".to_string()), |seq, key| {
                seq.then(KeyAction::Down { value: key })
                    .then(KeyAction::Up { value: key })
            });
        self.client()
            .perform_actions(actions)
            .await
            .expect("press keys");
        self.client().release_actions().await.expect("release keys");
    }

    /// The `id` of the focused element.
    pub async fn focused_id(&self) -> String {
        let focused = self
            .client()
            .active_element()
            .await
            .expect("active element");
        focused.attr("id").await.expect("id").unwrap_or_default()
    }

    /// The visible text of the focused element (for buttons without an id).
    pub async fn focused_text(&self) -> String {
        let focused = self
            .client()
            .active_element()
            .await
            .expect("active element");
        focused.text().await.expect("text")
    }

    /// The cookie named `name` as the browser stored it, if it has one for
    /// the current page.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        let cookies = self.client().get_all_cookies().await.expect("read cookies");
        cookies.into_iter().find(|c| c.name() == name)
    }

    /// What page scripts can see of the cookies (`HttpOnly` ones are hidden).
    pub async fn document_cookie(&self) -> String {
        let value = self
            .client()
            .execute("return document.cookie;", vec![])
            .await
            .expect("document.cookie");
        value.as_str().unwrap_or_default().to_string()
    }

    /// Opens a second tab and switches to it; returns the first tab's handle.
    pub async fn open_second_tab(&self) -> fantoccini::wd::WindowHandle {
        let first = self.client().window().await.expect("window handle");
        let second = self.client().new_window(true).await.expect("new tab");
        self.client()
            .switch_to_window(second.handle)
            .await
            .expect("switch to the new tab");
        first
    }

    pub async fn switch_to(&self, window: fantoccini::wd::WindowHandle) {
        self.client()
            .switch_to_window(window)
            .await
            .expect("switch tab");
    }

    /// Scrolls the element matching `css` into view (for screenshots of
    /// long pages: WebDriver captures only the viewport).
    pub async fn scroll_to(&self, css: &str) {
        self.client()
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView();",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("scroll to {css:?}: {e}"));
    }

    /// Saves the current page as `target/screenshots/<test>-<step>.png`.
    pub async fn screenshot(&self, step: &str) {
        let png = self.client().screenshot().await.expect("screenshot");
        let path = self.screenshots.join(format!("{}-{step}.png", self.test));
        fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    async fn location_is_ours(&self) -> bool {
        match self.client().current_url().await {
            Ok(url) => url.origin().ascii_serialization() == self.origin,
            Err(_) => false,
        }
    }

    /// Turns the checks of every page the browser arrives at off or on.
    pub fn set_checks(&self, on: bool) {
        self.checks.set(on);
    }

    /// Checks the page as it is now, as every visit does: axe-core finds no
    /// violation at 390 px and at 1280 px, and at 320 px nothing is wider
    /// than the window. The window returns to its size afterwards.
    pub async fn check_page(&self) {
        if !self.checks.get() {
            return;
        }
        let page = self.location().await;
        let window = self.window_size().await;
        for (width, height) in AXE_WIDTHS {
            self.resize(width, height).await;
            let violations = self.axe_violations().await;
            assert!(
                violations.is_empty(),
                "axe-core found violations on {page} at {width} px:\n{}",
                violations.join("\n")
            );
        }
        self.resize(REFLOW_WIDTH.0, REFLOW_WIDTH.1).await;
        let overflow = self.sideways_overflow().await;
        assert!(
            overflow.is_empty(),
            "{page} scrolls sideways at {} px: {overflow}",
            REFLOW_WIDTH.0
        );
        self.set_window_size(window).await;
    }

    async fn window_size(&self) -> (u32, u32) {
        let (width, height) = self
            .client()
            .get_window_size()
            .await
            .expect("read the window size");
        let size = |n: u64| u32::try_from(n).expect("a window size");
        (size(width), size(height))
    }

    /// Gives the window (frame included) this size, as it was read.
    async fn set_window_size(&self, (width, height): (u32, u32)) {
        self.client()
            .set_window_size(width, height)
            .await
            .expect("restore the window size");
    }

    /// Makes the viewport (not the window with its frame) `width` by
    /// `height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        let client = self.client();
        client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize the window to {width}x{height}: {e}"));
        // Headless Chromium may give the window a frame; make up for it.
        let inner = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("read the viewport size");
        let size = |i: usize| inner[i].as_i64().expect("viewport size");
        let (dw, dh) = (i64::from(width) - size(0), i64::from(height) - size(1));
        if dw != 0 || dh != 0 {
            let grow =
                |base: u32, by: i64| u32::try_from(i64::from(base) + by).expect("window size");
            client
                .set_window_size(grow(width, dw), grow(height, dh))
                .await
                .expect("resize the window");
        }
    }

    /// axe-core's violations on the current page, one line each: the rule,
    /// what it wants, and the elements that break it.
    pub async fn axe_violations(&self) -> Vec<String> {
        let client = self.client();
        // WebDriver's scripts run outside the page's Content-Security-Policy
        // (which allows no scripts at all), so axe can be injected.
        let loaded = client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .expect("look for axe");
        if loaded != Value::Bool(true) {
            client
                .execute(&format!("{AXE}\nreturn true;"), vec![])
                .await
                .expect("inject axe-core");
        }
        let result = client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ['violations'] })
                  .then(r => done(r.violations.map(v =>
                    `${v.id} (${v.impact}): ${v.help}: ` +
                    v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\s+/g, ' ') + ']' : '')).join('; '))))
                  .catch(e => done(['axe failed: ' + e]));"#,
                vec![],
            )
            .await
            .expect("run axe-core");
        let Value::Array(lines) = result else {
            panic!("axe-core answered {result}");
        };
        lines
            .into_iter()
            .map(|line| line.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Empty when the page is no wider than the viewport; otherwise the
    /// widths and the elements that stick out.
    async fn sideways_overflow(&self) -> String {
        let result = self
            .client()
            .execute(
                r#"const root = document.documentElement;
                if (root.scrollWidth <= root.clientWidth) return '';
                const out = [...document.querySelectorAll('body *')]
                  .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5)
                  .slice(0, 5)
                  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).replace(/ /g, '.') : '') + ' ' + Math.round(e.getBoundingClientRect().right) + ' px');
                return `the page is ${root.scrollWidth} px wide in a ${root.clientWidth} px viewport; ${out.join(', ')}`;"#,
                vec![],
            )
            .await
            .expect("measure the page width");
        result.as_str().unwrap_or_default().to_string()
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> String {
        self.client().title().await.expect("page title")
    }

    /// An attribute of the first element matching `css` (empty if absent).
    pub async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    /// Whether the element matching `css` is wholly inside the viewport.
    pub async fn in_view(&self, css: &str) -> bool {
        let inside = self
            .client()
            .execute(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();
                 return r.top >= 0 && r.bottom <= window.innerHeight;",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("measure {css:?}: {e}"));
        inside == Value::Bool(true)
    }

    /// The rendered height in CSS pixels of the element matching `css`.
    pub async fn height(&self, css: &str) -> f64 {
        self.client()
            .execute(
                "return document.querySelector(arguments[0]).getBoundingClientRect().height;",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("measure {css:?}: {e}"))
            .as_f64()
            .expect("a height")
    }

    /// The contrast ratio (WCAG's formula) between the colour `property`
    /// of the element matching `css` and the background of the card it is on
    /// (0 for the outline of an element that shows no focus ring).
    pub async fn contrast(&self, css: &str, property: &str) -> f64 {
        self.client()
            .execute(
                r#"const el = document.querySelector(arguments[0]);
                const rgb = c => c.match(/[\d.]+/g).slice(0, 3).map(Number);
                const lum = c => {
                  const [r, g, b] = rgb(c).map(v => v / 255)
                    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
                  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                };
                // A ring that is not drawn has no contrast to speak of.
                if (arguments[1] === 'outline-color' && !el.matches(':focus-visible')) return 0;
                const fg = getComputedStyle(el)[arguments[1]];
                const bg = getComputedStyle(el.closest('.card')).backgroundColor;
                const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
                return (hi + 0.05) / (lo + 0.05);"#,
                vec![json!(css), json!(property)],
            )
            .await
            .unwrap_or_else(|e| panic!("measure the contrast of {css:?}: {e}"))
            .as_f64()
            .expect("a ratio")
    }

    /// Runs `script` on the page (for tests that need to break a form).
    pub async fn run(&self, script: &str) {
        self.client()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run {script:?}: {e}"));
    }

    /// Saves the whole page (not just the viewport) at `width` CSS pixels
    /// as `target/screenshots/<test>-<step>-<width>.png`.
    pub async fn screenshot_at(&self, step: &str, width: u32) {
        let window = self.window_size().await;
        self.resize(width, 800).await;
        let height = self
            .client()
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .expect("page height")
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .expect("page height");
        self.resize(width, height.clamp(400, 4000)).await;
        self.screenshot(&format!("{step}-{width}")).await;
        self.set_window_size(window).await;
    }

    // The app's own forms, filled in the way a person would.

    pub async fn register(&self, username: &str, password: &str) {
        self.goto("/register").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.fill("#password_confirm", password).await;
        self.click_to_navigate("form[action='/register'] button[type=submit]")
            .await;
        self.wait_for_location("/").await;
    }

    /// Fills in and submits the login form already on the page.
    pub async fn submit_login(&self, username: &str, password: &str, remember: bool) {
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        let checkbox = self.find("#remember").await;
        if checkbox.is_selected().await.expect("checkbox state") != remember {
            checkbox.click().await.expect("toggle remember me");
        }
        self.click_to_navigate("form[action='/login'] button[type=submit]")
            .await;
    }

    pub async fn login(&self, username: &str, password: &str, remember: bool) {
        self.goto("/login").await;
        self.submit_login(username, password, remember).await;
        self.wait_for_location("/").await;
    }

    /// Clicks the navigation's "Log out" button.
    pub async fn logout(&self) {
        self.click_to_navigate("form[action='/logout'] button[type=submit]")
            .await;
        self.wait_for_location("/").await;
    }
}

async fn open_session(driver: &str, profile: &Path) -> (Client, u32) {
    let args = [
        "--headless".to_string(),
        // Chromium's sandbox needs user namespaces that containers and CI
        // runners often lack.
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        // Nothing may reach the network: no update checks, no sync, no
        // first-run pages, no QUIC probes.
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-sync".to_string(),
        "--no-first-run".to_string(),
        "--disable-quic".to_string(),
        // On Linux, Chromium encrypts its cookie store with a key from the
        // desktop keyring when one answers; a keyring that answers one
        // process and not the next would make remembered cookies unreadable.
        "--password-store=basic".to_string(),
        // Same size every run, so screenshots compare.
        "--window-size=1200,900".to_string(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .unwrap_or_else(|e| panic!("start Chromium through chromedriver: {e}"));
    let pid = client
        .capabilities()
        .and_then(|caps| caps.get("goog:processID"))
        .and_then(Value::as_u64)
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("chromedriver reports Chromium's process id");
    (client, pid)
}

/// Waits for Chromium's main process to have exited, so its profile is
/// free and its files are written. A zombie (exited, not yet reaped by
/// chromedriver) counts as gone.
async fn wait_until_gone(pid: u32) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the parenthesised command name: "pid (comm) S ...".
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, None | Some('Z') | Some('X')) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Chromium (pid {pid}) did not exit"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
