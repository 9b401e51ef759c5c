//! Stamps the build date into the binary (`CHARGER_BUILD_UNIX`, seconds since the epoch): the
//! core ignores a central-system time before it (issue 9.1). `SOURCE_DATE_EPOCH` wins, so a
//! reproducible build gets a reproducible stamp.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=CHARGER_BUILD_UNIX={secs}");
    // The charger's relative relocations packed as DT_RELR (binutils >= 2.38, glibc >= 2.36):
    // the same position-independent binary, with ~180 KB less relocation table to store and for
    // the loader to read at every start.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
