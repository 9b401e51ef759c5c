//! Hands on a bench and its lock, as a person at the bench meets them: `rig --profile FILE
//! power|net ...` through the profile's drivers, and who holds the bench when it is taken.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rig::bench_lock::BenchLock;

/// A bench whose relay and gate are shell commands writing their state into files.
fn bench_profile(dir: &Path) -> std::path::PathBuf {
    let d = dir.display();
    let text = format!(
        "link = \"slcan:/dev/ttyRIGTEST0\"\nlock = \"bench.lock\"\n[power]\nswitch = \"command\"\non = \"echo on >> {d}/relay\"\noff = \"echo off >> {d}/relay\"\nsettle_ms = 0\n[network]\ngate = \"nftables\"\n[network.nftables]\ncut = [\"echo cut > {d}/gate\"]\nrefuse = [\"echo refused > {d}/gate\"]\nrestore = [\"echo restored > {d}/gate\"]\n"
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn rig(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rig"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn power_and_net_go_through_the_profile_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let profile = bench_profile(dir.path());
    let p = profile.to_str().unwrap();
    let (code, out, err) = rig(&["--profile", p, "power", "cycle"]);
    assert_eq!(code, 0, "{out}{err}");
    let relay = std::fs::read_to_string(dir.path().join("relay")).unwrap();
    assert_eq!(relay, "off\non\n");
    for (action, state) in [
        ("cut", "cut"),
        ("refuse", "refused"),
        ("restore", "restored"),
    ] {
        let (code, out, err) = rig(&["--profile", p, "net", action]);
        assert_eq!(code, 0, "{out}{err}");
        let gate = std::fs::read_to_string(dir.path().join("gate")).unwrap();
        assert_eq!(gate.trim(), state);
    }
    let (code, _, err) = rig(&["power", "on"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rig --profile FILE power"), "{err}");
}

#[test]
fn a_held_bench_says_who_holds_it_and_can_be_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let profile = bench_profile(dir.path());
    let p = profile.to_str().unwrap();
    let held = BenchLock::acquire(
        &dir.path().join("bench.lock"),
        "the nightly job",
        None,
        &mut |_| {},
    )
    .unwrap();
    let me = format!("pid {}", std::process::id());
    let (code, _, err) = rig(&["--profile", p, "power", "off"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&me) && err.contains("the nightly job"),
        "{err}"
    );
    assert!(!dir.path().join("relay").exists(), "nothing was switched");

    // A run on a held bench fails the same way, before it starts anything.
    let feature = dir.path().join("x.feature");
    std::fs::write(
        &feature,
        "Feature: X\n  Scenario: Y\n    Given the charger uses RFID authorization\n",
    )
    .unwrap();
    let (code, _, err) = rig(&["run", feature.to_str().unwrap(), "--profile", p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("held by") && err.contains(&me), "{err}");

    // With --wait-lock, the command waits, says for whom, and goes ahead once released.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rig"))
        .args(["--profile", p, "--wait-lock", "60", "power", "off"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("waiting for the bench lock held by"),
        "{line}"
    );
    drop(held);
    assert!(child.wait().unwrap().success());
    let relay = std::fs::read_to_string(dir.path().join("relay")).unwrap();
    assert_eq!(relay, "off\n");
}
