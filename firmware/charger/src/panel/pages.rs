//! The panel's pages, as maud templates (checked at compile time, escaped by default).
//!
//! Plain HTML forms, no JavaScript, one column that fits a phone; every input has a label, and
//! an error is written next to its field with `role="alert"`. Stable ids and `data-` attributes
//! (`key-NAME`, `error-NAME`, `data-value`, `data-state`) let the rig read what a person sees.

use charger_core::{AuthorizationMode, ConfigEntry};
use maud::{html, Markup, DOCTYPE};

use super::PanelView;

/// The stylesheet, served from the binary at `/panel.css`.
pub const CSS: &str = include_str!("panel.css");

/// Which page a link points to (for `aria-current`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Login,
    Status,
    Configuration,
    Authorization,
    Message,
}

fn layout(title: &str, page: Page, csrf: Option<&str>, body: Markup) -> Markup {
    let link = |href: &str, label: &str, p: Page| {
        html! { li { a href=(href) aria-current=[(page == p).then_some("page")] { (label) } } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Chargerig configuration panel" }
                link rel="stylesheet" href="/panel.css";
            }
            body {
                header {
                    p class="brand" { "Chargerig · configuration panel" }
                    @if let Some(csrf) = csrf {
                        nav aria-label="Panel pages" {
                            ul {
                                (link("/", "Status", Page::Status))
                                (link("/configuration", "OCPP configuration", Page::Configuration))
                                (link("/authorization", "Authorization", Page::Authorization))
                            }
                        }
                        form method="post" action="/logout" class="logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The login form. `csrf` is bound to the login cookie.
pub fn login(csrf: &str, error: Option<&str>, notice: Option<&str>) -> Markup {
    layout(
        "Log in",
        Page::Login,
        None,
        html! {
            @if let Some(n) = notice { p class="notice" role="status" { (n) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="password" { "Installer password" }
                input id="password" name="password" type="password" autocomplete="current-password"
                    required aria-describedby=[error.map(|_| "login-error")];
                @if let Some(e) = error { p class="error" id="login-error" role="alert" { (e) } }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// A page with one message (rebooting, refused form, restarting).
pub fn message(title: &str, text: &str, csrf: Option<&str>, back: Option<(&str, &str)>) -> Markup {
    layout(
        title,
        Page::Message,
        csrf,
        html! {
            p role="status" id="message" { (text) }
            @if let Some((href, label)) = back { p { a href=(href) { (label) } } }
        },
    )
}

/// A flash line for the status page (fixed texts: nothing from the request is reflected).
pub enum StatusFlash {
    CacheCleared,
    CacheRefused(String),
}

/// The status page, with the maintenance buttons.
pub fn status(v: &PanelView, csrf: &str, flash: Option<StatusFlash>) -> Markup {
    let s = &v.status;
    let state = if s.online { "online" } else { "offline" };
    let detail = match (s.connected, s.registration) {
        (false, _) => "no connection to the central system".to_string(),
        (true, None) => "connected, waiting for the BootNotification answer".to_string(),
        (true, Some(r)) => format!("connected, registration {r}"),
    };
    layout(
        "Status",
        Page::Status,
        Some(csrf),
        html! {
            dl class="facts" {
                dt { "Charger" } dd id="identity" { (s.serial_number) " (charge point id " (s.charge_point_id) ", " (s.vendor) " " (s.model) ")" }
                dt { "Firmware version" } dd id="firmware" { (s.firmware_version) }
                dt { "Connection" } dd id="connection" data-state=(state) { strong { (state) } " — " (detail) }
                dt { "Central system" } dd id="csms-url" { code { (v.csms_url) } }
                dt { "Security profile" } dd id="security-profile" { (s.security_profile) }
                dt { "Connector 1" } dd id="connector" data-state=(s.connector_status.as_str()) { (s.connector_status.as_str()) }
                dt { "Transaction" } dd id="transaction" {
                    @match &s.transaction {
                        None => "none",
                        Some(t) => {
                            "card " (t.id_tag) ", since " (t.started.format("%Y-%m-%d %H:%M:%S UTC"))
                            ", " (s.energy_wh.saturating_sub(t.meter_start_wh)) " Wh"
                            @match t.transaction_id {
                                Some(id) => { ", transaction id " (id) }
                                None => { ", not yet confirmed by the central system" }
                            }
                        }
                    }
                }
                dt { "Energy register" } dd id="energy" { (s.energy_wh) " Wh" }
                dt { "Messages waiting for the central system" } dd id="queued" { (s.queued_messages) }
                dt { "Authorization cache" } dd id="cache" data-value=(s.cache_entries) { (s.cache_entries) " entries" }
                dt { "Local authorization list version" } dd id="local-list" { (s.local_list_version) }
                dt { "Authorization mode" } dd id="authorization-mode" data-value=(s.authorization.as_str()) { (mode_label(s.authorization)) }
                dt { "Charger clock" } dd id="clock" { (s.time.format("%Y-%m-%d %H:%M:%S UTC")) }
            }
            h2 { "Maintenance" }
            @match &flash {
                Some(StatusFlash::CacheCleared) => p class="notice" role="status" id="cache-result" { "Authorization cache cleared." },
                Some(StatusFlash::CacheRefused(why)) => p class="error" role="alert" id="cache-result" { "Not cleared: " (why) },
                None => {},
            }
            form method="post" action="/cache/clear" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Clear authorization cache" }
            }
            form method="post" action="/reboot" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="danger" { "Reboot the charger" }
            }
        },
    )
}

fn mode_label(m: AuthorizationMode) -> &'static str {
    match m {
        AuthorizationMode::Rfid => "RFID cards",
        AuthorizationMode::Free => "Free charge (no card needed)",
    }
}

/// What the configuration page says next to one field after a form was sent.
pub struct FieldResult<'a> {
    pub key: &'a str,
    /// What was typed (shown again after an error, never for a write-only key).
    pub entered: Option<&'a str>,
    pub outcome: Outcome<'a>,
}

pub enum Outcome<'a> {
    Saved,
    SavedAfterReboot,
    Error(&'a str),
}

/// The pseudo-key of the central-system URL form.
pub const URL_FIELD: &str = "csms-url";

/// The OCPP keys with their values, a form per writable key, and the central-system URL.
pub fn configuration(v: &PanelView, csrf: &str, result: Option<FieldResult<'_>>) -> Markup {
    let result_for = |key: &str| result.as_ref().filter(|r| r.key == key);
    let outcome = |key: &str| -> Markup {
        match result_for(key).map(|r| &r.outcome) {
            Some(Outcome::Saved) => {
                html! { p class="notice" role="status" id={"saved-" (key)} { "Saved." } }
            }
            Some(Outcome::SavedAfterReboot) => {
                html! { p class="notice" role="status" id={"saved-" (key)} { "Saved: takes effect after the charger restarts." } }
            }
            Some(Outcome::Error(e)) => {
                html! { p class="error" role="alert" id={"error-" (key)} { "Not saved: " (e) } }
            }
            None => html! {},
        }
    };
    let has_error =
        |key: &str| matches!(result_for(key).map(|r| &r.outcome), Some(Outcome::Error(_)));
    layout(
        "OCPP configuration",
        Page::Configuration,
        Some(csrf),
        html! {
            p { "A change here is checked and stored exactly like a ChangeConfiguration from the central system." }
            section class="key" id={"key-" (URL_FIELD)} data-value=(v.csms_base) {
                form method="post" action={"/configuration/url#key-" (URL_FIELD)} {
                    input type="hidden" name="csrf" value=(csrf);
                    label for={"value-" (URL_FIELD)} { "Central system URL" }
                    p class="hint" id="csms-url-hint" { "ws://HOST:PORT/PATH; the charge point id is appended. Used from the next start." }
                    input id={"value-" (URL_FIELD)} name="url" type="text" inputmode="url" autocomplete="off"
                        value=(result_for(URL_FIELD).and_then(|r| r.entered).unwrap_or(v.csms_url_next.as_deref().unwrap_or(&v.csms_base)))
                        aria-invalid=[has_error(URL_FIELD).then_some("true")]
                        aria-describedby=(if has_error(URL_FIELD) { format!("csms-url-hint error-{URL_FIELD}") } else { "csms-url-hint".to_string() });
                    button type="submit" { "Save" }
                    @if let Some(next) = &v.csms_url_next {
                        p class="hint" { "Used after the next restart: " code { (next) } }
                    }
                    (outcome(URL_FIELD))
                }
            }
            @for e in &v.keys {
                (key_entry(e, csrf, result_for(e.key).and_then(|r| r.entered), has_error(e.key), outcome(e.key)))
            }
        },
    )
}

fn shown_value(e: &ConfigEntry) -> String {
    match &e.value {
        Some(v) => v.clone(),
        None if e.is_set => "set".into(),
        None => "not set".into(),
    }
}

fn key_entry(
    e: &ConfigEntry,
    csrf: &str,
    entered: Option<&str>,
    error: bool,
    outcome: Markup,
) -> Markup {
    let shown = shown_value(e);
    let input_id = format!("value-{}", e.key);
    let error_id = format!("error-{}", e.key);
    let is_bool = matches!(e.value.as_deref(), Some("true" | "false"));
    html! {
        section class="key" id={"key-" (e.key)} data-value=(shown) {
            @if e.readonly {
                p class="label" { (e.key) } p class="value" { code { (shown) } " " span class="hint" { "(read-only)" } }
                (outcome)
            } @else {
                // The fragment brings the browser back to this field with its result.
                form method="post" action={"/configuration#key-" (e.key)} {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="key" value=(e.key);
                    label for=(input_id) { (e.key) }
                    @if e.value.is_none() {
                        p class="value" { "Currently " strong { (shown) } }
                        input id=(input_id) name="value" type="password" autocomplete="off"
                            aria-invalid=[error.then_some("true")] aria-describedby=[error.then_some(&error_id)];
                    } @else if is_bool && entered.is_none() {
                        select id=(input_id) name="value" {
                            option value="true" selected[shown == "true"] { "true" }
                            option value="false" selected[shown == "false"] { "false" }
                        }
                    } @else {
                        input id=(input_id) name="value" type="text" autocomplete="off" value=(entered.unwrap_or(&shown))
                            aria-invalid=[error.then_some("true")] aria-describedby=[error.then_some(&error_id)];
                    }
                    button type="submit" { "Save" }
                    (outcome)
                }
            }
        }
    }
}

/// RFID or free charge.
pub fn authorization(v: &PanelView, csrf: &str, saved: bool) -> Markup {
    let mode = v.status.authorization;
    layout(
        "Authorization",
        Page::Authorization,
        Some(csrf),
        html! {
            form method="post" action="/authorization" {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { "How a session is authorized" }
                    p { input type="radio" id="mode-rfid" name="mode" value="rfid" checked[mode == AuthorizationMode::Rfid];
                        " " label for="mode-rfid" { (mode_label(AuthorizationMode::Rfid)) } }
                    p { input type="radio" id="mode-free" name="mode" value="free" checked[mode == AuthorizationMode::Free];
                        " " label for="mode-free" { (mode_label(AuthorizationMode::Free)) ": plugging in starts charging with the serial number as id tag" } }
                }
                button type="submit" { "Save" }
                @if saved { p class="notice" role="status" id="saved-mode" { "Saved." } }
            }
        },
    )
}
