//! The panel's HTTP server: hyper's HTTP/1 connection handling with a small router of our own
//! (a dozen routes do not need a framework's weight in the firmware image), login and sessions,
//! CSRF checks and security headers. Every read and change goes to the event loop as a
//! [`PanelCmd`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use charger_core::{AuthorizationMode, LocalReply, LocalRequest};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use maud::Markup;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

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
/// Largest form body accepted (a configuration value is at most 500 characters).
const MAX_FORM_BYTES: usize = 16 * 1024;
/// Connections served at once; more wait for a free slot (memory stays bounded).
const MAX_CONNECTIONS: usize = 16;
/// A connection (keep-alive included) is closed after this long.
const CONNECTION_LIMIT: Duration = Duration::from_secs(60);

/// Every response: no framing, no scripts, no inline styles, nothing from elsewhere.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

type Response = hyper::Response<Full<Bytes>>;

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
    // Like everything in the data directory, readable by the charger's user only.
    auth::write_private(&data_dir.join(ADDR_FILE), &addr.to_string())?;
    info!(%addr, url = %format!("http://{addr}/"), "configuration panel listening");
    let state = Arc::new(PanelState {
        tx,
        hash,
        sessions: Mutex::new(Sessions::default()),
        lockout: tokio::sync::Mutex::new(Lockout::default()),
    });
    let task = tokio::spawn(accept_loop(listener, state));
    Ok(PanelHandle { addr, task })
}

async fn accept_loop(listener: TcpListener, st: Arc<PanelState>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: try again shortly, never spin.
                warn!(error = %e, "configuration panel: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let st = st.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let st = st.clone();
                async move { Ok::<_, Infallible>(handle(&st, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_LIMIT, conn).await {
                Ok(Err(e)) => debug!(%peer, error = %e, "configuration panel connection ended"),
                Err(_) => {
                    debug!(%peer, "configuration panel connection closed after its time limit")
                }
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
}

/// One request, its query and (for a POST) its form, decoded.
struct Request {
    method: Method,
    path: String,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl Request {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A form field, empty when absent (a missing token then simply does not match).
    fn field(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

async fn handle(st: &PanelState, req: hyper::Request<hyper::body::Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let mut form = Vec::new();
    if parts.method == Method::POST {
        match Limited::new(body, MAX_FORM_BYTES).collect().await {
            Ok(b) => form = parse_urlencoded(&b.to_bytes()),
            Err(_) => {
                let mut r = page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    pages::message(
                        "Refused",
                        "This form is too large: nothing was changed.",
                        None,
                        None,
                    ),
                );
                secure(&mut r);
                return r;
            }
        }
    }
    let req = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parse_urlencoded(parts.uri.query().unwrap_or("").as_bytes()),
        headers: parts.headers,
        form,
    };
    let mut res = route(st, &req).await;
    secure(&mut res);
    res
}

async fn route(st: &PanelState, req: &Request) -> Response {
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    match req.path.as_str() {
        "/" if get => status_page(st, req).await,
        "/login" if get => login_page(st, req),
        "/login" if post => login(st, req).await,
        "/logout" if post => form(st, req, Form::Logout).await,
        "/configuration" if get => configuration_page(st, req).await,
        "/configuration" if post => form(st, req, Form::Key).await,
        "/configuration/url" if post => form(st, req, Form::Url).await,
        "/authorization" if get => authorization_page(st, req).await,
        "/authorization" if post => form(st, req, Form::Mode).await,
        "/cache/clear" if post => form(st, req, Form::ClearCache).await,
        "/reboot" if post => form(st, req, Form::Reboot).await,
        "/panel.css" if get => css(),
        "/" | "/login" | "/logout" | "/configuration" | "/configuration/url" | "/authorization"
        | "/cache/clear" | "/reboot" | "/panel.css" => page(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::message(
                "Not allowed",
                "This page does not take that kind of request.",
                None,
                Some(("/", "Status")),
            ),
        ),
        _ => page(
            StatusCode::NOT_FOUND,
            pages::message(
                "Not found",
                "There is no such page.",
                None,
                Some(("/", "Status")),
            ),
        ),
    }
}

/// The form posts that change something (all but the login's).
#[derive(Debug, Clone, Copy)]
enum Form {
    Logout,
    Key,
    Url,
    Mode,
    ClearCache,
    Reboot,
}

/// A form post: checked here, once for all of them (a session and the form's anti-forgery
/// token), so that no handler can forget it; a refused form changes nothing.
async fn form(st: &PanelState, req: &Request, which: Form) -> Response {
    let s = match st.check_form(req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match which {
        Form::Logout => logout(st, req),
        Form::Key => change_key(st, req, &s).await,
        Form::Url => change_url(st, req, &s).await,
        Form::Mode => change_mode(st, req, &s).await,
        Form::ClearCache => clear_cache(st, &s).await,
        Form::Reboot => reboot(st, &s).await,
    }
}

/// The security headers, on every response.
fn secure(res: &mut Response) {
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
}

/// `application/x-www-form-urlencoded` (forms and query strings).
fn parse_urlencoded(raw: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split(|b| *b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&kv[..i]), decode(&kv[i + 1..])),
            None => (decode(kv), String::new()),
        })
        .collect()
}

// ----- responses -----

fn respond(status: StatusCode, headers: Vec<(HeaderName, String)>, body: String) -> Response {
    let mut res = hyper::Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().append(name, v);
        }
    }
    res
}

fn page(status: StatusCode, m: Markup) -> Response {
    page_with(status, Vec::new(), m)
}

fn page_with(status: StatusCode, mut headers: Vec<(HeaderName, String)>, m: Markup) -> Response {
    headers.push((header::CONTENT_TYPE, "text/html; charset=utf-8".into()));
    respond(status, headers, m.into_string())
}

fn see_other(to: &str) -> Response {
    see_other_with(to, Vec::new())
}

fn see_other_with(to: &str, mut headers: Vec<(HeaderName, String)>) -> Response {
    headers.push((header::LOCATION, to.to_string()));
    respond(StatusCode::SEE_OTHER, headers, String::new())
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

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "Restarting",
            "The charger is restarting. Reload this page in a few seconds.",
            None,
            Some(("/", "Reload")),
        ),
    )
}

fn css() -> Response {
    respond(
        StatusCode::OK,
        vec![(header::CONTENT_TYPE, "text/css; charset=utf-8".into())],
        pages::CSS.to_string(),
    )
}

impl PanelState {
    fn session(&self, req: &Request) -> Option<Session> {
        let token = req.cookie(SESSION_COOKIE)?;
        self.sessions
            .lock()
            .expect("sessions lock")
            .get(token, Instant::now())
    }

    /// The session of a form post whose anti-forgery token is right; otherwise the refusal to
    /// send (nothing is changed either way).
    fn check_form(&self, req: &Request) -> Result<Session, Box<Response>> {
        let Some(s) = self.session(req) else {
            return Err(Box::new(see_other("/login")));
        };
        if !csrf::matches(&s.csrf, req.field("csrf")) {
            warn!(path = %req.path, "configuration panel: form refused (missing or wrong anti-forgery token)");
            return Err(Box::new(page(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Form refused",
                    "This form has expired or did not come from this panel: nothing was changed.",
                    Some(&s.csrf),
                    Some(("/", "Back to the status page")),
                ),
            )));
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

    async fn view(&self) -> Option<PanelView> {
        match self.ask(PanelRequest::View).await {
            PanelReply::View(v) => Some(*v),
            _ => None,
        }
    }
}

// ----- login -----

fn login_page(st: &PanelState, req: &Request) -> Response {
    let bye = req.query("bye").is_some();
    if st.session(req).is_some() && !bye {
        return see_other("/");
    }
    login_form(StatusCode::OK, None, bye.then_some("You are logged out."))
}

/// The login form with a fresh anti-forgery token bound to a short-lived cookie.
fn login_form(status: StatusCode, error: Option<&str>, notice: Option<&str>) -> Response {
    let token = csrf::new_token();
    let set =
        format!("{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=600");
    page_with(
        status,
        vec![(header::SET_COOKIE, set)],
        pages::login(&token, error, notice),
    )
}

async fn login(st: &PanelState, req: &Request) -> Response {
    if !req
        .cookie(LOGIN_COOKIE)
        .is_some_and(|c| csrf::matches(c, req.field("csrf")))
    {
        warn!("configuration panel: login refused (missing or wrong anti-forgery token)");
        return login_form(
            StatusCode::FORBIDDEN,
            Some("This login form has expired or did not come from this panel. Try again."),
            None,
        );
    }
    let mut lockout = st.lockout.lock().await;
    if let Err(left) = lockout.check(Instant::now()) {
        let secs = left.as_secs() + 1;
        warn!(
            seconds_left = secs,
            "configuration panel: login attempt while locked"
        );
        return login_form(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many wrong passwords: login is locked. Try again in {secs} s."
            )),
            None,
        );
    }
    let hash = st.hash.clone();
    let password = req.field("password").to_string();
    let ok = tokio::task::spawn_blocking(move || auth::verify(&hash, &password))
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
    see_other_with(
        "/",
        vec![
            (header::SET_COOKIE, session_cookie(&token)),
            (header::SET_COOKIE, expired_cookie(LOGIN_COOKIE, "/login")),
        ],
    )
}

/// A checked form post ([`form`]).
fn logout(st: &PanelState, req: &Request) -> Response {
    if let Some(token) = req.cookie(SESSION_COOKIE) {
        st.sessions.lock().expect("sessions lock").remove(token);
    }
    info!("configuration panel: installer logged out");
    see_other_with(
        "/login?bye=1",
        vec![(header::SET_COOKIE, expired_cookie(SESSION_COOKIE, "/"))],
    )
}

// ----- pages -----

async fn status_page(st: &PanelState, req: &Request) -> Response {
    let Some(s) = st.session(req) else {
        return see_other("/login");
    };
    let Some(v) = st.view().await else {
        return unavailable();
    };
    let flash = (req.query("done") == Some("cache-cleared")).then_some(StatusFlash::CacheCleared);
    page(StatusCode::OK, pages::status(&v, &s.csrf, flash))
}

async fn configuration_page(st: &PanelState, req: &Request) -> Response {
    let Some(s) = st.session(req) else {
        return see_other("/login");
    };
    let Some(v) = st.view().await else {
        return unavailable();
    };
    // Only a key that exists is named back: nothing from the query string is reflected.
    let saved = req.query("saved").and_then(|k| {
        (k == URL_FIELD)
            .then_some(URL_FIELD)
            .or_else(|| v.keys.iter().find(|e| e.key == k).map(|e| e.key))
    });
    let result = saved.map(|key| FieldResult {
        key,
        entered: None,
        outcome: if req.query("reboot").is_some() {
            Outcome::SavedAfterReboot
        } else {
            Outcome::Saved
        },
    });
    page(StatusCode::OK, pages::configuration(&v, &s.csrf, result))
}

async fn change_key(st: &PanelState, req: &Request, s: &Session) -> Response {
    let (key_in, value) = (req.field("key"), req.field("value"));
    let change = LocalRequest::ChangeConfiguration {
        key: key_in.to_string(),
        value: value.to_string(),
    };
    let reply = st.ask(PanelRequest::Local(change)).await;
    let Some(v) = st.view().await else {
        return unavailable();
    };
    let Some(entry) = v.keys.iter().find(|e| e.key.eq_ignore_ascii_case(key_in)) else {
        return page(
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
    match reply {
        PanelReply::Done(LocalReply::Accepted) => {
            see_other(&format!("/configuration?saved={key}#key-{key}"))
        }
        PanelReply::Done(LocalReply::RebootRequired) => {
            see_other(&format!("/configuration?saved={key}&reboot=1#key-{key}"))
        }
        PanelReply::Done(LocalReply::Rejected { reason }) => {
            // A write-only key's attempted value is never echoed.
            let entered = entry.value.is_some().then_some(value);
            field_refused(&v, s, key, entered, &reason)
        }
        _ => unavailable(),
    }
}

async fn change_url(st: &PanelState, req: &Request, s: &Session) -> Response {
    let url = req.field("url");
    match st
        .ask(PanelRequest::SetCsmsUrl(url.trim().to_string()))
        .await
    {
        PanelReply::Done(LocalReply::Rejected { reason }) => {
            let Some(v) = st.view().await else {
                return unavailable();
            };
            field_refused(&v, s, URL_FIELD, Some(url), &reason)
        }
        PanelReply::Done(_) => see_other(&format!(
            "/configuration?saved={URL_FIELD}&reboot=1#key-{URL_FIELD}"
        )),
        _ => unavailable(),
    }
}

/// The configuration page with the refusal next to its field (422).
fn field_refused(
    v: &PanelView,
    s: &Session,
    key: &str,
    entered: Option<&str>,
    reason: &str,
) -> Response {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        pages::configuration(
            v,
            &s.csrf,
            Some(FieldResult {
                key,
                entered,
                outcome: Outcome::Error(reason),
            }),
        ),
    )
}

async fn authorization_page(st: &PanelState, req: &Request) -> Response {
    let Some(s) = st.session(req) else {
        return see_other("/login");
    };
    match st.view().await {
        Some(v) => page(
            StatusCode::OK,
            pages::authorization(&v, &s.csrf, req.query("saved").is_some()),
        ),
        None => unavailable(),
    }
}

async fn change_mode(st: &PanelState, req: &Request, s: &Session) -> Response {
    let mode = match req.field("mode") {
        "rfid" => AuthorizationMode::Rfid,
        "free" => AuthorizationMode::Free,
        _ => {
            return page(
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

async fn clear_cache(st: &PanelState, s: &Session) -> Response {
    match st.ask(PanelRequest::Local(LocalRequest::ClearCache)).await {
        PanelReply::Done(LocalReply::Accepted) => see_other("/?done=cache-cleared"),
        PanelReply::Done(LocalReply::Rejected { reason }) => match st.view().await {
            Some(v) => page(
                StatusCode::CONFLICT,
                pages::status(&v, &s.csrf, Some(StatusFlash::CacheRefused(reason))),
            ),
            None => unavailable(),
        },
        _ => unavailable(),
    }
}

async fn reboot(st: &PanelState, s: &Session) -> Response {
    match st.ask(PanelRequest::Local(LocalRequest::Reboot)).await {
        PanelReply::Done(LocalReply::Accepted) => page(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded_like_a_browser_encodes_them() {
        let f = parse_urlencoded(b"csrf=ab&key=Heartbeat%49nterval&value=a+b%26c%3D&empty=&flag");
        assert_eq!(
            f,
            [
                ("csrf".into(), "ab".into()),
                ("key".into(), "HeartbeatInterval".into()),
                ("value".into(), "a b&c=".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(parse_urlencoded(b"v=100%"), [("v".into(), "100%".into())]);
        assert_eq!(
            parse_urlencoded(b"v=%zz%C3%BC"),
            [("v".into(), "%zzü".into())]
        );
    }
}
