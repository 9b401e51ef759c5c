//! The central system's payload checks: the workspace's one OCPP 1.6 checker (`ocpp-check`),
//! with the CallError code the central system answers a bad request with.

use serde_json::Value;

pub use ocpp_check::CHARGE_POINT_ACTIONS;

/// Checks the payload of a request the charger sent. `Err` carries the CallError code to answer
/// with and the reason.
pub fn charge_point_request(action: &str, payload: &Value) -> Result<(), (&'static str, String)> {
    ocpp_check::request(action, payload).map_err(|p| (p.call_error_code(), p.to_string()))
}

/// Checks the payload of the charger's answer to a central-system request of `action`.
pub fn charge_point_response(action: &str, payload: &Value) -> Result<(), String> {
    ocpp_check::response(action, payload).map_err(|p| p.to_string())
}
