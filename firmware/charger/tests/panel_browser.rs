//! The configuration panel in a real browser: headless Chromium (Debian's `chromium`) driven
//! through WebDriver (`chromedriver`, Debian's `chromium-driver`) with fantoccini. Logs in,
//! changes keys, sees the error for a bad value, switches the authorization mode, clears the
//! cache, logs out, with JavaScript switched off in the browser, at a phone's window size. A
//! screenshot of each page goes to `<target dir>/panel-screenshots/` (a CI artifact).
//!
//! Without chromium or chromedriver the test is skipped with a message, unless `CI` is set: in
//! CI a missing browser is a failure, never a silent pass.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use common::panel::{self, NOWHERE, PASSWORD};

/// Phone-sized window (CSS pixels).
const PHONE: (u32, u32) = (390, 844);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser and its driver, or `None` (skip) when absent outside CI.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let driver = find_program(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let missing = format!(
                "{}{}",
                if c.is_none() { "chromium " } else { "" },
                if d.is_none() { "chromedriver" } else { "" }
            );
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but {missing} is missing: .ci/run installs chromium and chromium-driver"
                );
            }
            eprintln!(
                "SKIPPED panel browser test: {missing} not installed (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// `chromedriver` on a free local port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(program: &Path, log: &Path) -> Driver {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        common::poll(
            &format!("chromedriver listening on {addr}"),
            Duration::from_secs(20),
            || TcpStream::connect(addr).map_err(|e| e.to_string()),
        );
        Driver {
            child,
            url: format!("http://{addr}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp: the screenshots go beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("panel-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshot_dir().join(format!("panel-{name}.png")), png).unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn attr(c: &Client, css: &str, name: &str) -> Option<String> {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .attr(name)
        .await
        .unwrap()
}

/// Waits (with a deadline) until the browser shows `path`: a click on a form button may return
/// before the navigation it started has finished.
async fn wait_path(c: &Client, path: &str) {
    common::poll_async(path, Duration::from_secs(10), || async {
        let now = c.current_url().await.unwrap();
        if now.path() == path && c.find(Locator::Css("main h1")).await.is_ok() {
            Ok(())
        } else {
            Err(format!("still at {now}"))
        }
    })
    .await
}

/// Clicks what `locator` finds (waiting for it like every find).
async fn click(c: &Client, locator: Locator<'_>) {
    c.find(locator)
        .await
        .unwrap_or_else(|e| panic!("nothing to click: {e}"))
        .click()
        .await
        .unwrap();
}

/// Types `keys` into what `locator` finds.
async fn type_into(c: &Client, locator: Locator<'_>, keys: &str) {
    c.find(locator)
        .await
        .unwrap_or_else(|e| panic!("nothing to type into: {e}"))
        .send_keys(keys)
        .await
        .unwrap();
}

/// Types into a field and presses the Save button of its form, as a person does.
async fn set_field(c: &Client, key: &str, value: &str) {
    let input = c
        .find(Locator::Css(&format!("#value-{key}")))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
    click(c, Locator::Css(&format!("#key-{key} button"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_logs_in_changes_keys_sees_an_error_and_logs_out_in_chromium() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (charger, client) = panel::start(dir.path(), NOWHERE);
    let base = format!("http://{}", client.addr());
    let driver = Driver::start(&chromedriver, &dir.path().join("chromedriver.log"));
    let profile = dir.path().join("chromium-profile");
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={},{}", PHONE.0, PHONE.1),
            ],
            // The panel must work without JavaScript: the browser runs none.
            "prefs": { "profile.managed_default_content_settings.javascript": 2 }
        }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("WebDriver session with headless chromium");
    // Finding an element waits for it (up to 10 s): a click's navigation may still be under way.
    c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
        None,
        Some(Duration::from_secs(20)),
        Some(Duration::from_secs(10)),
    ))
    .await
    .unwrap();

    // Not logged in: the panel sends the browser to the login page.
    c.goto(&format!("{base}/configuration")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    shot(&c, "login").await;

    // A wrong password is refused, with the message next to the field.
    type_into(&c, Locator::Id("password"), "not-the-password").await;
    click(&c, Locator::Css("main button")).await;
    assert!(text(&c, "#login-error").await.contains("Wrong password"));
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    shot(&c, "login-refused").await;

    type_into(&c, Locator::Id("password"), PASSWORD).await;
    click(&c, Locator::Css("main button")).await;
    wait_path(&c, "/").await;
    assert_eq!(
        attr(&c, "#connection", "data-state").await.as_deref(),
        Some("offline")
    );
    shot(&c, "status").await;

    // A bad value: the error is shown next to its field, nothing changes.
    c.goto(&format!("{base}/configuration")).await.unwrap();
    shot(&c, "configuration").await;
    set_field(&c, "HeartbeatInterval", "every minute").await;
    let err = text(&c, "#error-HeartbeatInterval").await;
    assert!(err.contains("whole number"), "{err}");
    shot(&c, "configuration-error").await;
    assert_eq!(
        attr(&c, "#key-HeartbeatInterval", "data-value")
            .await
            .as_deref(),
        Some("300")
    );

    // A good value is saved and shown.
    set_field(&c, "HeartbeatInterval", "120").await;
    assert!(text(&c, "#saved-HeartbeatInterval").await.contains("Saved"));
    assert_eq!(
        attr(&c, "#key-HeartbeatInterval", "data-value")
            .await
            .as_deref(),
        Some("120")
    );
    // A boolean key is a choice, not free text.
    c.find(Locator::Css("#value-AllowOfflineTxForUnknownId"))
        .await
        .unwrap()
        .select_by_value("true")
        .await
        .unwrap();
    click(&c, Locator::Css("#key-AllowOfflineTxForUnknownId button")).await;
    assert!(text(&c, "#saved-AllowOfflineTxForUnknownId")
        .await
        .contains("Saved"));
    assert_eq!(
        attr(&c, "#key-AllowOfflineTxForUnknownId", "data-value")
            .await
            .as_deref(),
        Some("true")
    );
    shot(&c, "configuration-saved").await;

    // Authorization mode.
    c.goto(&format!("{base}/authorization")).await.unwrap();
    click(&c, Locator::Id("mode-free")).await;
    click(&c, Locator::Css("main form button")).await;
    assert!(text(&c, "#saved-mode").await.contains("Saved"));
    shot(&c, "authorization").await;

    // Clear the cache from the status page.
    c.goto(&format!("{base}/")).await.unwrap();
    click(&c, Locator::Css("form[action='/cache/clear'] button")).await;
    assert!(text(&c, "#cache-result").await.contains("cleared"));
    assert_eq!(
        attr(&c, "#authorization-mode", "data-value")
            .await
            .as_deref(),
        Some("free")
    );

    // The same pages on a desktop-sized window (the README shows these).
    c.set_window_size(1024, 1100).await.unwrap();
    shot(&c, "desktop-status").await;
    c.goto(&format!("{base}/configuration")).await.unwrap();
    set_field(&c, "ConnectionTimeOut", "soon").await;
    shot(&c, "desktop-configuration-error").await;
    c.set_window_size(PHONE.0, PHONE.1).await.unwrap();

    // Log out: back to the login page, and the pages are closed again.
    click(&c, Locator::Css("form.logout button")).await;
    wait_path(&c, "/login").await;
    assert!(text(&c, "main").await.contains("You are logged out."));
    shot(&c, "logged-out").await;
    c.goto(&format!("{base}/configuration")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");

    c.close().await.unwrap();
    // What the browser did went through the charger logic like a ChangeConfiguration.
    let log = charger.log_text();
    assert!(log.contains("configuration changed key=\"HeartbeatInterval\" value=120"));
    assert!(log.contains("ChangeConfiguration rejected"));
    assert!(!log.contains(PASSWORD));
}
