//! A small blocking client for the panel, speaking plain HTTP/1.1 like a browser without
//! JavaScript: cookies, forms with their anti-forgery token, and reading what a page shows by
//! the panel's stable ids. The rig's panel steps and the firmware's tests use it; the firmware
//! itself never does.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-case, in order (repeated headers repeat).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Why a panel interaction failed.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("configuration panel at {addr} unreachable: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("configuration panel answered something unreadable: {0}")]
    Protocol(String),
    #[error("configuration panel refused the password (HTTP {status}): {message}")]
    LoginRefused { status: u16, message: String },
    #[error("configuration panel refused the value: {0}")]
    Refused(String),
    #[error("configuration panel: the charger is restarting")]
    Restarting,
    #[error("configuration panel: {0}")]
    Unexpected(String),
}

impl PanelError {
    /// The charger is (re)starting: nothing listens yet, or the panel says so. Worth waiting for.
    pub fn is_transient(&self) -> bool {
        matches!(self, PanelError::Io { .. } | PanelError::Restarting)
    }
}

/// An answer the panel should not have given (`Restarting` for its 503 page).
fn unexpected(what: &str, status: u16) -> PanelError {
    if status == 503 {
        PanelError::Restarting
    } else {
        PanelError::Unexpected(format!("{what}: HTTP {status}"))
    }
}

/// A browser-like session with the panel.
#[derive(Debug, Clone)]
pub struct PanelClient {
    addr: SocketAddr,
    cookies: BTreeMap<String, String>,
    timeout: Duration,
}

impl PanelClient {
    pub fn new(addr: SocketAddr) -> PanelClient {
        PanelClient {
            addr,
            cookies: BTreeMap::new(),
            timeout: Duration::from_secs(10),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forgets every cookie (a new browser).
    pub fn forget_cookies(&mut self) {
        self.cookies.clear();
    }

    pub fn get(&mut self, path: &str) -> Result<HttpResponse, PanelError> {
        self.request("GET", path, None)
    }

    /// Posts a form (`application/x-www-form-urlencoded`).
    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<HttpResponse, PanelError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", path, Some(body))
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<HttpResponse, PanelError> {
        let io = |source| PanelError::Io {
            addr: self.addr,
            source,
        };
        let mut stream = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(io)?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: text/html\r\n",
            self.addr
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        stream.write_all(req.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(io)?;
        let res = parse_response(&raw)?;
        for c in res.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                let gone = c.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
                if gone {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_string(), v.to_string());
                }
            }
        }
        Ok(res)
    }

    /// Logs in; `Err(LoginRefused)` with the page's message when the panel says no.
    pub fn login(&mut self, password: &str) -> Result<(), PanelError> {
        let page = self.get("/login")?;
        let csrf = form_token(&page.body)?;
        let res = self.post("/login", &[("csrf", &csrf), ("password", password)])?;
        if res.status == 303 && res.header("location") == Some("/") {
            return Ok(());
        }
        Err(PanelError::LoginRefused {
            status: res.status,
            message: element_text(&res.body, "login-error").unwrap_or_default(),
        })
    }

    /// Whether the session cookie still opens the panel.
    pub fn logged_in(&mut self) -> Result<bool, PanelError> {
        match self.get("/")?.status {
            200 => Ok(true),
            503 => Err(PanelError::Restarting),
            _ => Ok(false),
        }
    }

    /// Logs in unless already logged in.
    pub fn ensure_login(&mut self, password: &str) -> Result<(), PanelError> {
        if self.logged_in()? {
            Ok(())
        } else {
            self.login(password)
        }
    }

    /// A logged-in page (status 200), or an error saying what came instead.
    pub fn page(&mut self, path: &str) -> Result<String, PanelError> {
        let res = self.get(path)?;
        if res.status != 200 {
            if res.status == 303 && res.header("location") == Some("/login") {
                return Err(PanelError::Unexpected(format!("GET {path}: not logged in")));
            }
            return Err(unexpected(&format!("GET {path}"), res.status));
        }
        Ok(res.body)
    }

    /// Changes one OCPP key through its form. `Err(Refused(message))` is the error the panel
    /// shows next to the field.
    pub fn set_key(&mut self, key: &str, value: &str) -> Result<(), PanelError> {
        let res = self.post_key(key, value)?;
        self.expect_saved(res, key)
    }

    /// Posts one OCPP key's form (with a fresh anti-forgery token) and returns the raw answer,
    /// for callers that look at the page the panel answers with.
    pub fn post_key(&mut self, key: &str, value: &str) -> Result<HttpResponse, PanelError> {
        let page = self.page("/configuration")?;
        let csrf = form_token(&page)?;
        self.post(
            "/configuration",
            &[("csrf", &csrf), ("key", key), ("value", value)],
        )
    }

    /// Changes the central-system URL through its form.
    pub fn set_csms_url(&mut self, url: &str) -> Result<(), PanelError> {
        let page = self.page("/configuration")?;
        let csrf = form_token(&page)?;
        let res = self.post("/configuration/url", &[("csrf", &csrf), ("url", url)])?;
        self.expect_saved(res, "csms-url")
    }

    fn expect_saved(&mut self, res: HttpResponse, field: &str) -> Result<(), PanelError> {
        match res.status {
            303 => Ok(()),
            422 => Err(PanelError::Refused(
                element_text(&res.body, &format!("error-{field}"))
                    .or_else(|| element_text(&res.body, "message"))
                    .unwrap_or_else(|| "refused".into()),
            )),
            s => Err(unexpected(&format!("saving {field}"), s)),
        }
    }

    /// The value a key shows (`set` / `not set` for a write-only key).
    pub fn key_value(&mut self, key: &str) -> Result<Option<String>, PanelError> {
        let page = self.page("/configuration")?;
        Ok(attribute_of(&page, &format!("key-{key}"), "data-value"))
    }

    /// `rfid` or `free`.
    pub fn set_authorization_mode(&mut self, mode: &str) -> Result<(), PanelError> {
        let page = self.page("/authorization")?;
        let csrf = form_token(&page)?;
        let res = self.post("/authorization", &[("csrf", &csrf), ("mode", mode)])?;
        match res.status {
            303 => Ok(()),
            s => Err(unexpected("setting the authorization mode", s)),
        }
    }

    pub fn clear_cache(&mut self) -> Result<(), PanelError> {
        let page = self.page("/")?;
        let csrf = form_token(&page)?;
        let res = self.post("/cache/clear", &[("csrf", &csrf)])?;
        match res.status {
            303 => Ok(()),
            409 => Err(PanelError::Refused(
                element_text(&res.body, "cache-result").unwrap_or_default(),
            )),
            s => Err(unexpected("clearing the cache", s)),
        }
    }

    /// `online` or `offline`, as the status page shows the connection.
    pub fn connection_state(&mut self) -> Result<String, PanelError> {
        let page = self.page("/")?;
        attribute_of(&page, "connection", "data-state")
            .ok_or_else(|| PanelError::Protocol("status page without a connection state".into()))
    }

    pub fn logout(&mut self) -> Result<(), PanelError> {
        let page = self.page("/")?;
        let csrf = form_token(&page)?;
        let res = self.post("/logout", &[("csrf", &csrf)])?;
        match res.status {
            303 => Ok(()),
            s => Err(unexpected("logging out", s)),
        }
    }
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, PanelError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| PanelError::Protocol("no end of headers".into()))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| PanelError::Protocol(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The anti-forgery token of the first form on a page.
pub fn form_token(page: &str) -> Result<String, PanelError> {
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .find(marker)
        .ok_or_else(|| PanelError::Protocol("page without a form token".into()))?
        + marker.len();
    let end = page[start..]
        .find('"')
        .ok_or_else(|| PanelError::Protocol("unterminated form token".into()))?;
    Ok(page[start..start + end].to_string())
}

/// The (unescaped) value of `attr` on the element with `id`.
pub fn attribute_of(page: &str, id: &str, attr: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let tag_start = page[..at].rfind('<')?;
    let tag_end = at + page[at..].find('>')?;
    let tag = &page[tag_start..tag_end];
    let marker = format!(" {attr}=\"");
    let v = tag.find(&marker)? + marker.len();
    let len = tag[v..].find('"')?;
    Some(unescape(&tag[v..v + len]))
}

/// The text inside the element with `id` (tags dropped, entities unescaped), if present.
pub fn element_text(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let open_end = at + page[at..].find('>')? + 1;
    let tag_start = page[..at].rfind('<')?;
    let name: String = page[tag_start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let close = format!("</{name}>");
    let end = open_end + page[open_end..].find(&close)?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[open_end..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(unescape(text.trim()))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_by_id() {
        let page = r#"<section class="key" id="key-A" data-value="x &amp; y"><p class="error" role="alert" id="error-A">Not saved: <b>bad</b></p></section><form><input type="hidden" name="csrf" value="abc"></form>"#;
        assert_eq!(
            attribute_of(page, "key-A", "data-value").as_deref(),
            Some("x & y")
        );
        assert_eq!(
            element_text(page, "error-A").as_deref(),
            Some("Not saved: bad")
        );
        assert_eq!(form_token(page).unwrap(), "abc");
        assert!(attribute_of(page, "key-B", "data-value").is_none());
    }

    #[test]
    fn forms_and_chunks_are_encoded_and_decoded() {
        assert_eq!(form_encode("a b&c=ü"), "a%20b%26c%3D%C3%BC");
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
        let r = parse_response(b"HTTP/1.1 303 See Other\r\nLocation: /\r\nSet-Cookie: a=1\r\n\r\n")
            .unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/"));
        assert_eq!(r.set_cookies(), ["a=1"]);
    }
}
