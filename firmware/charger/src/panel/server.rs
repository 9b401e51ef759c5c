//! The panel's HTTP server: routes, login and sessions, CSRF checks, security headers. Every
//! read and change goes to the event loop as a [`PanelCmd`].

// A refused request is returned early as the response to send; it is built once per request, so
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use charger_core::{AuthorizationMode, LocalReply, LocalRequest};
use maud::Markup;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::auth::{self, Session, Sessions, SESSION_TTL};
use super::lockout::Lockout;
use super::pages::{self, FieldResult, Outcome, StatusFlash, URL_FIELD};
use super::{csrf, PanelCmd, PanelReply, PanelRequest, PanelView};
use crate::config::PanelConfig;

/// The data-directory file holding the address the panel listens on (`HOST:PORT`), rewritten at
/// every start: with `listen = "...:0"` this is how a program finds the port.
pub const ADDR_FILE: &str = "panel.addr";

const SESSION_COOKIE: &str = "chargerig_session";
/// Binds the login form's anti-forgery token to the browser that loaded the form.
const LOGIN_COOKIE: &str = "chargerig_login";
/// Longest the panel waits for the event loop.
const LOOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Every response: no framing, no inline scripts or styles, nothing from elsewhere, no caching.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

struct PanelState {
    tx: mpsc::Sender<PanelCmd>,
    hash: String,
    sessions: Mutex<Sessions>,
    /// Held across a password check, so parallel attempts cannot slip past the lock.
    lockout: tokio::sync::Mutex<Lockout>,
}

/// The running panel; dropping it stops the server.
#[derive(Debug)]
pub struct PanelHandle {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for PanelHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Prepares the password hash, binds `cfg.listen`, logs and records the address, and serves
/// on the current runtime.
pub async fn start(
    cfg: &PanelConfig,
    data_dir: &Path,
    tx: mpsc::Sender<PanelCmd>,
) -> anyhow::Result<PanelHandle> {
    let hash = auth::prepare_password_hash(&cfg.secret, data_dir)?;
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("configuration panel: cannot listen on {}", cfg.listen))?;
    let addr = listener
        .local_addr()
        .context("configuration panel address")?;
    let addr_file = data_dir.join(ADDR_FILE);
    let tmp = addr_file.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))
        .and_then(|()| std::fs::rename(&tmp, &addr_file))
        .with_context(|| format!("writing {}", addr_file.display()))?;
    info!(%addr, url = %format!("http://{addr}/"), "configuration panel listening");
    let state = Arc::new(PanelState {
        tx,
        hash,
        sessions: Mutex::new(Sessions::default()),
        lockout: tokio::sync::Mutex::new(Lockout::default()),
    });
    let app = Router::new()
        .route("/", get(status_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/configuration", get(configuration_page).post(change_key))
        .route("/configuration/url", post(change_url))
        .route("/authorization", get(authorization_page).post(change_mode))
        .route("/cache/clear", post(clear_cache))
        .route("/reboot", post(reboot))
        .route("/panel.css", get(css))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "configuration panel stopped");
        }
    });
    Ok(PanelHandle { addr, task })
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// ----- helpers -----

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn session_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

fn expired_cookie(name: &str, path: &str) -> String {
    format!("{name}=; HttpOnly; SameSite=Strict; Path={path}; Max-Age=0")
}

fn html(status: StatusCode, m: Markup) -> Response {
    (status, Html(m.into_string())).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

impl PanelState {
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let s = self
            .sessions
            .lock()
            .expect("sessions lock")
            .get(token, Instant::now())?;
        Some((token.to_string(), s))
    }

    /// The session of a form post whose anti-forgery token is right; otherwise the refusal to
    /// send (nothing is changed either way).
    fn check_form(&self, headers: &HeaderMap, submitted: &str) -> Result<Session, Response> {
        let Some((_, s)) = self.session(headers) else {
            return Err(see_other("/login"));
        };
        if !csrf::matches(&s.csrf, submitted) {
            warn!("configuration panel: form refused (missing or wrong anti-forgery token)");
            return Err(html(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Form refused",
                    "This form has expired or did not come from this panel: nothing was changed.",
                    Some(&s.csrf),
                    Some(("/", "Back to the status page")),
                ),
            ));
        }
        Ok(s)
    }

    async fn ask(&self, req: PanelRequest) -> PanelReply {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(PanelCmd { req, reply }).await.is_err() {
            return PanelReply::Unavailable;
        }
        match tokio::time::timeout(LOOP_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            _ => PanelReply::Unavailable,
        }
    }

    async fn view(&self) -> Result<PanelView, Response> {
        match self.ask(PanelRequest::View).await {
            PanelReply::View(v) => Ok(*v),
            _ => Err(unavailable()),
        }
    }
}

fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "Restarting",
            "The charger is restarting. Reload this page in a few seconds.",
            None,
            Some(("/", "Reload")),
        ),
    )
}

// ----- login -----

#[derive(Deserialize)]
struct LoginQuery {
    bye: Option<String>,
}

async fn login_page(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if st.session(&headers).is_some() && q.bye.is_none() {
        return see_other("/");
    }
    let notice = q.bye.is_some().then_some("You are logged out.");
    login_form(StatusCode::OK, None, notice)
}

/// The login form with a fresh anti-forgery token bound to a short-lived cookie.
fn login_form(status: StatusCode, error: Option<&str>, notice: Option<&str>) -> Response {
    let token = csrf::new_token();
    let set =
        format!("{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=600");
    (
        status,
        AppendHeaders([(header::SET_COOKIE, set)]),
        Html(pages::login(&token, error, notice).into_string()),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| csrf::matches(c, &f.csrf)) {
        warn!("configuration panel: login refused (missing or wrong anti-forgery token)");
        return login_form(
            StatusCode::FORBIDDEN,
            Some("This login form has expired or did not come from this panel. Try again."),
            None,
        );
    }
    let mut lockout = st.lockout.lock().await;
    if let Err(left) = lockout.check(Instant::now()) {
        warn!(
            seconds_left = left.as_secs() + 1,
            "configuration panel: login attempt while locked"
        );
        return login_form(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many wrong passwords: login is locked. Try again in {} s.",
                left.as_secs() + 1
            )),
            None,
        );
    }
    let hash = st.hash.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify(&hash, &f.password))
        .await
        .unwrap_or(false);
    if !ok {
        let locked = lockout.fail(Instant::now());
        warn!(locked, "configuration panel: wrong password");
        let msg = if locked {
            "Wrong password. Too many wrong passwords: login is locked for a minute."
        } else {
            "Wrong password."
        };
        return login_form(StatusCode::UNAUTHORIZED, Some(msg), None);
    }
    lockout.succeed();
    drop(lockout);
    let token = st
        .sessions
        .lock()
        .expect("sessions lock")
        .create(Instant::now());
    info!("configuration panel: installer logged in");
    (
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::SET_COOKIE, session_cookie(&token)),
            (header::SET_COOKIE, expired_cookie(LOGIN_COOKIE, "/login")),
            (header::LOCATION, "/".to_string()),
        ]),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = st.check_form(&headers, &f.csrf) {
        return r;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        st.sessions.lock().expect("sessions lock").remove(token);
    }
    info!("configuration panel: installer logged out");
    (
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::SET_COOKIE, expired_cookie(SESSION_COOKIE, "/")),
            (header::LOCATION, "/login?bye=1".to_string()),
        ]),
    )
        .into_response()
}

// ----- pages -----

#[derive(Deserialize)]
struct StatusQuery {
    done: Option<String>,
}

async fn status_page(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Response {
    let Some((_, s)) = st.session(&headers) else {
        return see_other("/login");
    };
    let v = match st.view().await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flash = (q.done.as_deref() == Some("cache-cleared")).then_some(StatusFlash::CacheCleared);
    html(StatusCode::OK, pages::status(&v, &s.csrf, flash))
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
    reboot: Option<String>,
}

async fn configuration_page(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Query(q): Query<SavedQuery>,
) -> Response {
    let Some((_, s)) = st.session(&headers) else {
        return see_other("/login");
    };
    let v = match st.view().await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Only a key that exists is named back: nothing from the query string is reflected.
    let saved = q.saved.as_deref().and_then(|k| {
        (k == URL_FIELD)
            .then_some(URL_FIELD)
            .or_else(|| v.keys.iter().find(|e| e.key == k).map(|e| e.key))
    });
    let result = saved.map(|key| FieldResult {
        key,
        entered: None,
        outcome: if q.reboot.is_some() {
            Outcome::SavedAfterReboot
        } else {
            Outcome::Saved
        },
    });
    html(StatusCode::OK, pages::configuration(&v, &s.csrf, result))
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

async fn change_key(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<KeyForm>,
) -> Response {
    let s = match st.check_form(&headers, &f.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let req = LocalRequest::ChangeConfiguration {
        key: f.key.clone(),
        value: f.value.clone(),
    };
    let reply = st.ask(PanelRequest::Local(req)).await;
    let v = match st.view().await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(entry) = v.keys.iter().find(|e| e.key.eq_ignore_ascii_case(&f.key)) else {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message(
                "Not saved",
                "There is no such configuration key: nothing was changed.",
                Some(&s.csrf),
                Some(("/configuration", "Back to the configuration")),
            ),
        );
    };
    let key = entry.key;
    info!(key, "configuration panel: change submitted");
    match reply {
        PanelReply::Done(LocalReply::Accepted) => {
            see_other(&format!("/configuration?saved={key}#key-{key}"))
        }
        PanelReply::Done(LocalReply::RebootRequired) => {
            see_other(&format!("/configuration?saved={key}&reboot=1#key-{key}"))
        }
        PanelReply::Done(LocalReply::Rejected { reason }) => {
            let entered = entry.value.is_some().then_some(f.value.as_str());
            html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::configuration(
                    &v,
                    &s.csrf,
                    Some(FieldResult {
                        key,
                        entered,
                        outcome: Outcome::Error(&reason),
                    }),
                ),
            )
        }
        _ => unavailable(),
    }
}

#[derive(Deserialize)]
struct UrlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

async fn change_url(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<UrlForm>,
) -> Response {
    let s = match st.check_form(&headers, &f.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reply = st
        .ask(PanelRequest::SetCsmsUrl(f.url.trim().to_string()))
        .await;
    match reply {
        PanelReply::Done(LocalReply::Rejected { reason }) => {
            let v = match st.view().await {
                Ok(v) => v,
                Err(r) => return r,
            };
            html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::configuration(
                    &v,
                    &s.csrf,
                    Some(FieldResult {
                        key: URL_FIELD,
                        entered: Some(&f.url),
                        outcome: Outcome::Error(&reason),
                    }),
                ),
            )
        }
        PanelReply::Done(_) => see_other(&format!(
            "/configuration?saved={URL_FIELD}&reboot=1#key-{URL_FIELD}"
        )),
        _ => unavailable(),
    }
}

#[derive(Deserialize)]
struct ModeQuery {
    saved: Option<String>,
}

async fn authorization_page(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Query(q): Query<ModeQuery>,
) -> Response {
    let Some((_, s)) = st.session(&headers) else {
        return see_other("/login");
    };
    match st.view().await {
        Ok(v) => html(
            StatusCode::OK,
            pages::authorization(&v, &s.csrf, q.saved.is_some()),
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

async fn change_mode(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<ModeForm>,
) -> Response {
    let s = match st.check_form(&headers, &f.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mode = match f.mode.as_str() {
        "rfid" => AuthorizationMode::Rfid,
        "free" => AuthorizationMode::Free,
        _ => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::message(
                    "Not saved",
                    "Choose RFID cards or free charge: nothing was changed.",
                    Some(&s.csrf),
                    Some(("/authorization", "Back")),
                ),
            )
        }
    };
    match st
        .ask(PanelRequest::Local(LocalRequest::SetAuthorizationMode(
            mode,
        )))
        .await
    {
        PanelReply::Done(LocalReply::Accepted) => see_other("/authorization?saved=1"),
        _ => unavailable(),
    }
}

async fn clear_cache(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let s = match st.check_form(&headers, &f.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match st.ask(PanelRequest::Local(LocalRequest::ClearCache)).await {
        PanelReply::Done(LocalReply::Accepted) => see_other("/?done=cache-cleared"),
        PanelReply::Done(LocalReply::Rejected { reason }) => match st.view().await {
            Ok(v) => html(
                StatusCode::CONFLICT,
                pages::status(&v, &s.csrf, Some(StatusFlash::CacheRefused(reason))),
            ),
            Err(r) => r,
        },
        _ => unavailable(),
    }
}

async fn reboot(
    State(st): State<Arc<PanelState>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let s = match st.check_form(&headers, &f.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match st.ask(PanelRequest::Local(LocalRequest::Reboot)).await {
        PanelReply::Done(LocalReply::Accepted) => html(
            StatusCode::OK,
            pages::message(
                "Rebooting",
                "The charger is rebooting: a running transaction is stopped and reported first. \
                 The panel answers again in a few seconds.",
                Some(&s.csrf),
                Some(("/", "Back to the status page")),
            ),
        ),
        _ => unavailable(),
    }
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::CSS,
    )
        .into_response()
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            "Not found",
            "There is no such page.",
            None,
            Some(("/", "Status")),
        ),
    )
}
