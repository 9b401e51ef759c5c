//! Shell benchmarks with the real binary and the real database (no criterion: these are
//! end-to-end figures, each measured a few times and reported as median / max).
//!
//! - boot: process start → BootNotification received by a central system;
//! - queue: persisting 100,000 transaction messages (core + the shell's storage thread,
//!   in-process), then delivering them to a central system through the real binary (msgs/s);
//! - memory: resident set of the charger with 100,000 messages queued (VmRSS), and after
//!   delivering them;
//! - size: the (stripped, release) binary this bench runs;
//! - contactor delay with storage stuck: charging at 32 A, storage stuck for a second (the
//!   charger's stall hook, and a frozen loop-mounted ext4 when root), EV C→A: PilotChange →
//!   ContactorOpened on the board's clock (goal ≤ 100 ms).
//! - card decision: with factory keys (MessageTimeout 30 s, AuthorizeTimeout 4 s) and a
//!   central system that hangs with a StatusNotification unanswered, card presented → charging
//!   authorized by the local list (board status `transaction active`; issue 9.6).
//!
//! Run: `cargo bench -p charger --bench shell` (one figure: `CHARGER_BENCH_ONLY=card`; smoke run in debug:
//! `CHARGER_BENCH_QUEUED=200 cargo test -p charger --bench shell`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chargerig_link::Frame;
use common::board::Board;
use common::process::{ChargerProc, FAST_CONFIG};
use common::{calls_in, rig_csms, wait_until};
use rig::csms::{Csms, IdTagEntry};

/// Messages to queue; `CHARGER_BENCH_QUEUED` overrides it for a quick smoke run.
fn queued() -> usize {
    std::env::var("CHARGER_BENCH_QUEUED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `CHARGER_BENCH_ONLY=card` (or contactor, boot, rss, queue, size) runs one figure.
    let only = std::env::var("CHARGER_BENCH_ONLY").ok();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("contactor") {
        contactor_delay_storage_stuck();
    }
    if run("boot") {
        boot_latency(&rt);
    }
    if run("card") {
        card_decision(&rt);
    }
    if run("rss") {
        rss_idle();
    }
    if run("queue") {
        queue(&rt);
    }
    if run("size") {
        let exe = env!("CARGO_BIN_EXE_charger");
        let size = std::fs::metadata(exe).unwrap().len();
        // Built with the bench profile, whose dependency features are unified with the rig's
        // (a dev-dependency); the shipped figure is `cargo build --release -p charger`.
        println!(
            "binary size: {size} bytes ({:.1} MiB) {exe}",
            size as f64 / 1048576.0
        );
    }
}

fn boot_latency(rt: &tokio::runtime::Runtime) {
    let mut samples = Vec::new();
    for _ in 0..7 {
        let dir = tempfile::tempdir().unwrap();
        let ms = rt.block_on(async {
            let csms = rig_csms("127.0.0.1:0").await;
            let t0 = Instant::now();
            let _p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
            wait_until(&csms, "BootNotification", Duration::from_secs(20), |h| {
                !calls_in(h, "BootNotification").is_empty()
            })
            .await;
            t0.elapsed().as_secs_f64() * 1000.0
        });
        samples.push(ms);
    }
    let (median, max) = stats(&mut samples);
    println!("boot → BootNotification received: median {median:.1} ms, max {max:.1} ms (7 runs, fresh data dir)");
}

/// Fills a data dir with `QUEUED` transaction messages through the core, offline, committing
/// every Persist through the shell's storage thread (group commit, synchronous=FULL). Returns
/// messages/s, counted until the last commit is acknowledged durable.
fn fill_queue(dir: &std::path::Path) -> (f64, usize) {
    let filled = common::queue::fill(dir, queued());
    let (n, secs) = (filled.len, filled.took.as_secs_f64());
    println!(
        "persist: {n} transaction messages queued offline in {secs:.2} s = {:.0} msgs/s, durable ({} Persist batches through the storage thread, group commit, synchronous=FULL)",
        n as f64 / secs,
        filled.commits
    );
    (n as f64 / secs, n)
}

fn queue(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (_rate, n) = fill_queue(&data);

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/ocpp");
    let charger = ChargerProc::start(dir.path(), &url, FAST_CONFIG, &[]);
    let mut board = Board::open(&charger.board);
    let s = board.wait_status("queue loaded", Duration::from_secs(30), |s| {
        usize::from(s.queue_len) >= n.min(usize::from(u16::MAX))
    });
    let rss = vm_rss_kib(charger.pid());
    println!(
        "memory: VmRSS {rss} KiB with {} messages queued (board reports queue_len {})",
        n, s.queue_len
    );
    drop(board);

    rt.block_on(async {
        let csms = rig_csms(&format!("127.0.0.1:{port}")).await;
        // The card of the queued sessions (an unknown one would be answered Invalid).
        csms.script(|s| {
            s.set_id_tag(
                "04A1B2C3",
                IdTagEntry::accepted(),
            )
        });
        wait_until(&csms, "BootNotification", Duration::from_secs(30), |h| {
            !calls_in(h, "BootNotification").is_empty()
        })
        .await;
        let t0 = Instant::now();
        let tx_msgs = |c: &Csms| {
            c.with_history(|h| {
                ["StartTransaction", "StopTransaction", "MeterValues"]
                    .iter()
                    .map(|a| h.received(a).count())
                    .sum::<usize>()
            })
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        while tx_msgs(&csms) < n {
            assert!(Instant::now() < deadline, "delivered only {} of {n}", tx_msgs(&csms));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "deliver: {n} queued messages delivered in {secs:.2} s = {:.0} msgs/s (one CALL outstanding; removals durable in order, at most {} behind)",
            n as f64 / secs,
            charger::runtime::REMOVALS_IN_FLIGHT
        );
    });
    // After the drain, still connected: SQLite's page cache has refilled up to its cap.
    println!(
        "memory: VmRSS {} KiB after delivering them (connected, queue empty)",
        vm_rss_kib(charger.pid())
    );
    drop(charger);
}

/// Charging at 32 A, storage stuck, EV C→A: how long until the contactor opens.
fn contactor_delay_storage_stuck() {
    use common::stall::{can_freeze, unplug_with_storage_stuck, LoopFs};
    let runs = 3;
    // The stall hook exists only with the `fault-injection` feature, which `cargo bench` turns
    // on (the crate's dev-dependency on itself); the firmware itself never has it.
    let mut hook = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let stall = dir.path().join("stall");
        let env = stall.display().to_string();
        let (u, _charger, ()) = unplug_with_storage_stuck(
            dir.path(),
            &dir.path().join("data"),
            &[(charger::storage::STALL_FILE_ENV, &env)],
            || std::fs::write(&stall, b"").unwrap(),
        );
        hook.push(f64::from(u.contactor_delay_ms));
    }
    let (median, max) = stats(&mut hook);
    println!("contactor delay, storage stuck (stall hook), EV C→A: median {median:.0} ms, max {max:.0} ms ({runs} runs, board clock)");
    if !can_freeze("contactor delay on a frozen ext4") {
        return;
    }
    let mut frozen = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let fs = LoopFs::new(dir.path(), 64 * 1024);
        let data = fs.mount.join("data");
        let (u, charger, thaw) = unplug_with_storage_stuck(dir.path(), &data, &[], || fs.freeze());
        drop(thaw);
        drop(charger);
        frozen.push(f64::from(u.contactor_delay_ms));
    }
    let (median, max) = stats(&mut frozen);
    println!("contactor delay, data dir on a frozen ext4 (fsfreeze), EV C→A: median {median:.0} ms, max {max:.0} ms ({runs} runs, board clock)");
}

/// Resident memory of an idle charger (empty database, no central system) as the baseline.
fn rss_idle() {
    let dir = tempfile::tempdir().unwrap();
    let charger = ChargerProc::start(dir.path(), "ws://127.0.0.1:9/ocpp", FAST_CONFIG, &[]);
    let mut board = Board::open(&charger.board);
    board.wait_status("booted", Duration::from_secs(10), |_| true);
    let pid = charger.pid();
    // Most of an idle charger's resident set is mapped code (its own and libc's), so the split
    // says where a change landed.
    println!(
        "memory: VmRSS {} KiB idle (empty queue): RssFile {} KiB (mapped code and data), RssAnon {} KiB, {} threads",
        vm_rss_kib(pid),
        proc_status(pid, "RssFile:"),
        proc_status(pid, "RssAnon:"),
        proc_status(pid, "Threads:"),
    );
}

fn vm_rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmRSS:")
}

/// A number from `/proc/PID/status` (KiB for the memory lines).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn stats(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

/// Factory OCPP keys (no `[configuration]`), fast reconnects only.
const FACTORY_KEYS_CONFIG: &str = r#"
[csms]
reconnect_min_ms = 100
reconnect_max_ms = 400
"#;

fn card_decision(rt: &tokio::runtime::Runtime) {
    let mut samples = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let ms = rt.block_on(async {
            let csms = rig_csms("127.0.0.1:0").await;
            let charger = ChargerProc::start(dir.path(), &csms.url(), FACTORY_KEYS_CONFIG, &[]);
            let board_path = charger.board.clone();
            wait_until(&csms, "BootNotification", Duration::from_secs(20), |h| {
                !calls_in(h, "BootNotification").is_empty()
            })
            .await;
            // The card is in the local list, so the offline decision accepts it.
            let list = serde_json::json!({"listVersion": 1, "updateType": "Full",
                "localAuthorizationList": [{"idTag": "04A1B2C3", "idTagInfo": {"status": "Accepted"}}]});
            csms.call("SendLocalList", list, Duration::from_secs(10))
                .await
                .expect("SendLocalList answered");
            let mut b = tokio::task::spawn_blocking(move || {
                let mut b = Board::open(&board_path);
                b.wait_status("online", Duration::from_secs(20), |s| s.online);
                b
            })
            .await
            .unwrap();
            csms.script(|s| s.silent = true);
            let ms = tokio::task::spawn_blocking(move || {
                b.send(Frame::Pilot(chargerig_link::PilotState::B)); // its StatusNotification hangs
                b.pump(Duration::from_millis(500));
                let t0 = Instant::now();
                b.send(Frame::Card(Some("04A1B2C3".parse().unwrap())));
                b.wait_status("charging authorized", Duration::from_secs(90), |s| {
                    s.transaction_active
                });
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .await
            .unwrap();
            drop(charger);
            ms
        });
        samples.push(ms);
    }
    let (median, max) = stats(&mut samples);
    println!("card → decision, central system hung, factory keys: median {median:.0} ms, max {max:.0} ms (3 runs)");
}
