//! `rig sim`: prints the link and URLs, serves one-shot clients, takes fault commands on
//! stdin, and leaves nothing behind on Ctrl-C.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RIG: &str = env!("CARGO_BIN_EXE_rig");

#[test]
fn rig_sim_serves_one_shots_and_cleans_up() {
    let dir = std::env::temp_dir().join(format!("rig-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(RIG)
        .args(["sim", "--dir"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rig sim starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |what: &str, pred: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("rig sim never printed {what}"),
            }
        }
    };
    let link_line = next_line("the link", &|l| l.trim_start().starts_with("link:"));
    let link = link_line.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(link, format!("slcan:{}", dir.join("board").display()));
    next_line("the stdin help", &|l| l.starts_with("type here"));

    let o = Command::new(RIG)
        .args(["--link", &link, "pilot", "B"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"cut\n").unwrap();
    next_line("the cut confirmation", &|l| l.contains("network cut"));
    stdin.write_all(b"restore\nstatus\n").unwrap();
    next_line("the restore confirmation", &|l| {
        l.contains("network restored")
    });
    next_line("the status", &|l| {
        l.starts_with("pilot") && l.ends_with('B')
    });
    stdin.write_all(b"off\n").unwrap();
    next_line("power cut", &|l| l.contains("power cut"));
    stdin.write_all(b"on\n").unwrap();
    next_line("power restored", &|l| l.contains("power restored"));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "rig sim did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        std::fs::symlink_metadata(dir.join("board")).is_err(),
        "the pty symlink is removed"
    );
    // The session is recorded like a scenario, with its report.
    let ocpp = std::fs::read_to_string(dir.join("ocpp.jsonl")).unwrap();
    assert!(ocpp.contains("BootNotification"), "{ocpp}");
    let faults = std::fs::read_to_string(dir.join("faults.jsonl")).unwrap();
    assert!(faults.contains("\"power cut\""), "{faults}");
    let steps = std::fs::read_to_string(dir.join("steps.jsonl")).unwrap();
    assert_eq!(steps.lines().count(), 5, "{steps}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("data-lane=\"gate\""));
    assert!(html.contains("BootNotification"));
    let _ = std::fs::remove_dir_all(&dir);
}
