//! Every sample configuration in `fixtures/configs/` must load and pass the core's validation,
//! so a change of the file format or of the key rules that breaks them fails here.

use std::path::Path;

use charger::config::{self, Overrides};

#[test]
fn every_fixture_config_loads_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/configs exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        // Files without [csms] url are meant to be started with --csms-url.
        let text = std::fs::read_to_string(&path).unwrap();
        let overrides = Overrides {
            csms_url: (!text.contains("url =")).then(|| "ws://127.0.0.1:9000/ocpp".to_string()),
            ..Default::default()
        };
        let cfg = config::load_checked(Some(&path), &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.endpoint().starts_with("ws://"), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 1, "no configs found in {}", dir.display());
}
