//! The configuration panel over plain HTTP, on the real charger binary: login, sessions and
//! their cookies, anti-forgery tokens, the lockout, security headers, and changes that take the
//! ChangeConfiguration path.

mod common;

use common::panel::{self, NOWHERE, PASSWORD};
use common::process::{ChargerProc, FAST_CONFIG};
use rig::panel::client::{attribute_of, element_text, form_token, HttpResponse};
use rig::panel::{PanelClient, PanelError};

fn assert_security_headers(res: &HttpResponse, what: &str) {
    let csp = res.header("content-security-policy").unwrap_or_default();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert_eq!(res.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
}

#[test]
fn every_response_carries_the_security_headers_and_pages_need_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let (_p, mut c) = panel::start(dir.path(), NOWHERE);
    for path in ["/", "/configuration", "/authorization"] {
        let res = c.get(path).unwrap();
        assert_eq!(res.status, 303, "{path} without a session");
        assert_eq!(res.header("location"), Some("/login"));
        assert!(!res.body.contains("HeartbeatInterval"));
        assert_security_headers(&res, path);
    }
    let login = c.get("/login").unwrap();
    assert_eq!(login.status, 200);
    assert_security_headers(&login, "/login");
    assert!(
        login.body.contains(r#"<label for="password">"#),
        "labelled input"
    );
    c.login(PASSWORD).unwrap();
    for path in [
        "/",
        "/configuration",
        "/authorization",
        "/panel.css",
        "/nope",
    ] {
        let res = c.get(path).unwrap();
        assert_security_headers(&res, path);
    }
    let conf = c.get("/configuration").unwrap();
    assert_eq!(conf.status, 200);
    assert!(conf.body.contains("id=\"key-HeartbeatInterval\""));
}

#[test]
fn the_session_cookie_is_http_only_same_site_strict_and_expires_and_logout_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_p, mut c) = panel::start(dir.path(), NOWHERE);
    let page = c.get("/login").unwrap();
    let csrf = form_token(&page.body).unwrap();
    let res = c
        .post("/login", &[("csrf", &csrf), ("password", PASSWORD)])
        .unwrap();
    assert_eq!(res.status, 303);
    let session = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("chargerig_session="))
        .expect("session cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    let stolen = session.split(';').next().unwrap().to_string();
    assert!(c.logged_in().unwrap());

    c.logout().unwrap();
    assert!(!c.logged_in().unwrap(), "logged out");
    // The old cookie is dead on the server too, not only in this browser.
    let mut other = PanelClient::new(c.addr());
    let res = raw_get_with_cookie(&mut other, &stolen);
    assert_eq!(res, 303, "a logged-out session no longer opens pages");
    let bye = c.get("/login?bye=1").unwrap();
    assert!(bye.body.contains("You are logged out."));
}

fn raw_get_with_cookie(c: &mut PanelClient, cookie: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(c.addr()).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_form_without_or_with_a_wrong_anti_forgery_token_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (p, mut c) = panel::start(dir.path(), NOWHERE);
    c.login(PASSWORD).unwrap();
    let zeros = "0".repeat(64);
    for form in [
        vec![("key", "HeartbeatInterval"), ("value", "42")],
        vec![
            ("csrf", zeros.as_str()),
            ("key", "HeartbeatInterval"),
            ("value", "42"),
        ],
    ] {
        let res = c.post("/configuration", &form).unwrap();
        assert_eq!(res.status, 403, "{form:?}");
        assert!(res.body.contains("nothing was changed"));
    }
    for path in ["/authorization", "/cache/clear", "/reboot", "/logout"] {
        let res = c
            .post(path, &[("csrf", "forged"), ("mode", "free")])
            .unwrap();
        assert_eq!(res.status, 403, "{path}");
    }
    assert_eq!(
        c.key_value("HeartbeatInterval").unwrap().as_deref(),
        Some("300")
    );
    assert!(c.logged_in().unwrap(), "a forged logout did not log out");
    let st = c.page("/").unwrap();
    assert_eq!(
        attribute_of(&st, "authorization-mode", "data-value").as_deref(),
        Some("rfid")
    );
    assert!(!p.log_text().contains("configuration changed"));
    assert!(!p.log_text().contains("rebooting the charger"));

    // The login form's token is bound to the browser that loaded it.
    let mut fresh = PanelClient::new(c.addr());
    let res = fresh
        .post("/login", &[("csrf", "abc"), ("password", PASSWORD)])
        .unwrap();
    assert_eq!(res.status, 403);
    assert!(res
        .set_cookies()
        .iter()
        .all(|c| !c.starts_with("chargerig_session=")));
}

#[test]
fn five_wrong_passwords_in_a_minute_lock_the_login_even_for_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let (p, mut c) = panel::start(dir.path(), NOWHERE);
    for i in 1..=5 {
        match c.login("wrong-password") {
            Err(PanelError::LoginRefused {
                status: 401,
                message,
            }) => {
                assert!(message.contains("Wrong password"), "{i}: {message}");
                if i == 5 {
                    assert!(message.contains("locked"), "{message}");
                }
            }
            other => panic!("attempt {i}: {other:?}"),
        }
    }
    match c.login(PASSWORD) {
        Err(PanelError::LoginRefused {
            status: 429,
            message,
        }) => {
            assert!(message.contains("locked"), "{message}");
        }
        other => panic!("the right password while locked: {other:?}"),
    }
    assert!(!c.logged_in().unwrap());
    assert!(
        !p.log_text().contains(PASSWORD),
        "the password is never logged"
    );
}

#[test]
fn a_refused_value_is_shown_next_to_its_field_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (p, mut c) = panel::start(dir.path(), NOWHERE);
    c.login(PASSWORD).unwrap();
    let res = c.post_key("ConnectionTimeOut", "soon").unwrap();
    assert_eq!(res.status, 422);
    let err = element_text(&res.body, "error-ConnectionTimeOut").expect("error next to the field");
    assert!(err.contains("whole number"), "{err}");
    assert_eq!(
        attribute_of(&res.body, "value-ConnectionTimeOut", "value").as_deref(),
        Some("soon"),
        "what was typed is kept for correcting"
    );
    assert_eq!(
        attribute_of(&res.body, "value-ConnectionTimeOut", "aria-invalid").as_deref(),
        Some("true")
    );
    assert!(element_text(&res.body, "error-HeartbeatInterval").is_none());
    assert_eq!(
        c.key_value("ConnectionTimeOut").unwrap().as_deref(),
        Some("60")
    );
    // Same log line as a refused ChangeConfiguration.
    assert!(p.log_text().contains("ChangeConfiguration rejected"));
    assert!(matches!(
        c.set_key("NumberOfConnectors", "2"),
        Err(PanelError::Refused(m)) if m.contains("read-only")
    ));
}

#[test]
fn an_accepted_change_is_shown_logged_like_change_configuration_and_survives_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, mut c) = panel::start(dir.path(), NOWHERE);
    c.login(PASSWORD).unwrap();
    c.set_key("AllowOfflineTxForUnknownId", "true").unwrap();
    c.set_key("HeartbeatInterval", "120").unwrap();
    let page = c.page("/configuration?saved=HeartbeatInterval").unwrap();
    assert!(element_text(&page, "saved-HeartbeatInterval").is_some());
    assert_eq!(
        c.key_value("AllowOfflineTxForUnknownId")
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let log = p.log_text();
    assert!(
        log.contains("configuration changed key=\"HeartbeatInterval\" value=120"),
        "{log}"
    );

    let mut c = panel::power_cycle(dir.path(), &mut p);
    c.login(PASSWORD).unwrap();
    assert_eq!(
        c.key_value("HeartbeatInterval").unwrap().as_deref(),
        Some("120")
    );
    assert_eq!(
        c.key_value("AllowOfflineTxForUnknownId")
            .unwrap()
            .as_deref(),
        Some("true")
    );
}

#[test]
fn authorization_mode_cache_url_and_reboot_from_the_panel() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, mut c) = panel::start(dir.path(), NOWHERE);
    c.login(PASSWORD).unwrap();
    c.set_authorization_mode("free").unwrap();
    let st = c.page("/").unwrap();
    assert_eq!(
        attribute_of(&st, "authorization-mode", "data-value").as_deref(),
        Some("free")
    );
    c.clear_cache().unwrap();
    let st = c.page("/?done=cache-cleared").unwrap();
    assert!(element_text(&st, "cache-result")
        .unwrap()
        .contains("cleared"));
    assert!(matches!(
        c.set_csms_url("http://x"),
        Err(PanelError::Refused(_))
    ));
    c.set_csms_url("ws://127.0.0.1:10/other").unwrap();
    assert_eq!(c.connection_state().unwrap(), "offline");

    let page = c.page("/").unwrap();
    let csrf = form_token(&page).unwrap();
    let res = c.post("/reboot", &[("csrf", &csrf)]).unwrap();
    assert_eq!(res.status, 200);
    assert!(res.body.contains("rebooting"));
    // The reboot happened, and the session survives it (same process).
    p.wait_log("the reboot", std::time::Duration::from_secs(20), |log| {
        log.contains("rebooting the charger")
    });
    assert!(c.logged_in().unwrap());

    // Mode and URL are kept across a power cut; the URL is used from this start on.
    let mut c = panel::power_cycle(dir.path(), &mut p);
    c.login(PASSWORD).unwrap();
    let st = c.page("/").unwrap();
    assert_eq!(
        attribute_of(&st, "authorization-mode", "data-value").as_deref(),
        Some("free")
    );
    assert!(
        element_text(&st, "csms-url")
            .unwrap()
            .starts_with("ws://127.0.0.1:10/other/"),
        "{st}"
    );
}

#[test]
fn the_panel_is_off_without_a_panel_section_and_stores_only_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    // Board status frames flow once the event loop runs, after the panel would have started.
    let mut b = common::board::Board::open(&p.board);
    b.wait_status("any status", std::time::Duration::from_secs(10), |_| true);
    assert!(!dir
        .path()
        .join("data")
        .join(charger::panel::ADDR_FILE)
        .exists());
    assert!(!p.log_text().contains("configuration panel"));
    drop(p);

    let dir = tempfile::tempdir().unwrap();
    let (p, _c) = panel::start(dir.path(), NOWHERE);
    let stored =
        std::fs::read_to_string(dir.path().join("data").join(charger::panel::PASSWORD_FILE))
            .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    let mut everything = String::new();
    for e in std::fs::read_dir(dir.path().join("data")).unwrap() {
        everything.push_str(&String::from_utf8_lossy(
            &std::fs::read(e.unwrap().path()).unwrap_or_default(),
        ));
    }
    assert!(
        !everything.contains(PASSWORD),
        "the clear password is not in the data dir"
    );
    assert!(p.log_text().contains("configuration panel listening"));
}

#[test]
fn the_authorization_key_is_shown_only_as_set_or_not_set_and_never_echoed() {
    const KEY: &str = "3031323334353637383930313233343536373839";
    let dir = tempfile::tempdir().unwrap();
    let (p, mut c) = panel::start(dir.path(), NOWHERE);
    c.login(PASSWORD).unwrap();
    assert_eq!(
        c.key_value("AuthorizationKey").unwrap().as_deref(),
        Some("not set")
    );
    // A refused key: the error is next to the field, the attempted value is not in the page.
    let res = c.post_key("AuthorizationKey", "c0ffee-not-hex").unwrap();
    assert_eq!(res.status, 422);
    assert!(element_text(&res.body, "error-AuthorizationKey").is_some());
    assert!(!res.body.contains("c0ffee-not-hex"));
    c.set_key("AuthorizationKey", KEY).unwrap();
    let page = c.page("/configuration").unwrap();
    assert_eq!(
        attribute_of(&page, "key-AuthorizationKey", "data-value").as_deref(),
        Some("set")
    );
    assert_eq!(
        attribute_of(&page, "value-AuthorizationKey", "type").as_deref(),
        Some("password")
    );
    assert!(!page.contains(KEY));
    assert!(!p.log_text().contains(KEY), "the key is never logged");
}
