//! The charger firmware's shell: everything around the sans-IO `charger-core` that touches the
//! world. The command line ([`cli`]), the configuration file ([`config`], schema in
//! `charger-config`), the SQLite store
//! ([`store`]) behind a data-directory lock ([`lock`]), the OCPP-J WebSocket client ([`ws`]) and
//! the simulated board ([`board_sim`]) on its pseudo-terminal ([`pty`]), tied together by
//! [`runtime`].

pub mod backoff;
pub mod board_sim;
pub mod cli;
pub mod clock;
pub mod config;
pub mod lock;
pub mod panel;
pub mod pty;
pub mod redact;
pub mod runtime;
pub mod storage;
pub mod store;
pub mod tls;
pub mod ws;

/// The C `pow`, for the one caller the firmware has (tokio's multi-thread scheduler averages task
/// poll times with it). Defining it here from the pure-Rust `libm` crate means the linker needs
/// no shared libm, so the process does not load it: loading it alone kept ~600 KiB resident
/// (the loader runs its IFUNC resolvers across the library), an eighth of the idle footprint.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pow_is_the_float_power() {
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert!((super::pow(0.9, 3.5) - 0.6915901242788246).abs() < 1e-15);
        assert!((super::pow(2.0, -0.5) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
        assert!(super::pow(-1.0, 0.5).is_nan());
    }
}
