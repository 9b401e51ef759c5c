//! A transaction queue filled offline the way a long outage fills it: the core and the shell's
//! storage thread in-process, every `Persist` committed. Shared by the queue bench and the
//! power-cut-during-drain test.

use std::path::Path;
use std::time::{Duration, Instant};

use charger::storage::{Done, Storage};
use charger::store::Store;
use charger_core::queue::QueuedMessage;
use charger_core::{BoardInput, Charger, Input, Now, Output, PilotState, Settings};

/// The card of the queued sessions (the central system must accept it).
pub const CARD: &str = "04A1B2C3";

/// What [`fill`] queued.
pub struct Filled {
    /// Messages queued.
    pub len: usize,
    /// `Persist` batches committed.
    pub commits: u64,
    /// From the first input until the last commit was reported durable.
    pub took: Duration,
}

/// Queues at least `n` transaction messages in the data directory `dir` through the core,
/// offline: sessions of plug, card, charge 10 s, card, unplug (a StartTransaction and a
/// StopTransaction each), every message stamped later than the one before.
pub fn fill(dir: &Path, n: usize) -> Filled {
    let store = Store::open(dir).unwrap();
    let settings = Settings {
        installer_config: vec![
            ("AllowOfflineTxForUnknownId".into(), "true".into()),
            ("MeterValueSampleInterval".into(), "0".into()),
        ],
        ..Settings::default()
    };
    let mut now = Now {
        mono_ms: 0,
        utc: chrono::Utc::now() - chrono::Duration::days(30),
    };
    let mut core = Charger::new(settings, store.load().unwrap(), now).unwrap();
    let (storage, mut done) = Storage::spawn(store).unwrap();
    let mut commits = 0u64;
    let t0 = Instant::now();
    let mut step = |core: &mut Charger, input: Input, now: Now| {
        core.handle_input(input, now);
        while let Some(out) = core.poll_output() {
            if let Output::Persist(ops) = out {
                commits += 1;
                storage.commit(commits, ops);
            }
        }
    };
    let card = || Input::Board(BoardInput::Card(Some(vec![0x04, 0xA1, 0xB2, 0xC3])));
    let no_card = || Input::Board(BoardInput::Card(None));
    let pilot = |p| Input::Board(BoardInput::Pilot(p));
    while core.status().queue_len < n {
        let before = core.status().queue_len;
        step(&mut core, pilot(PilotState::B), now);
        now = now.plus_ms(1000);
        step(&mut core, card(), now);
        step(&mut core, no_card(), now);
        step(&mut core, pilot(PilotState::C), now);
        now = now.plus_ms(10_000);
        step(&mut core, Input::Tick, now);
        step(&mut core, card(), now);
        step(&mut core, no_card(), now);
        step(&mut core, pilot(PilotState::A), now);
        now = now.plus_ms(1000);
        step(&mut core, Input::Tick, now);
        assert!(
            core.status().queue_len > before,
            "a session did not queue anything: {:?}",
            core.status()
        );
    }
    loop {
        match done.blocking_recv() {
            Some(Done::Committed { seq }) if seq == commits => break,
            Some(Done::Failed(e)) => panic!("{e}"),
            Some(_) => {}
            None => panic!("storage thread gone"),
        }
    }
    let took = t0.elapsed();
    storage.close(Duration::from_secs(10));
    Filled {
        len: core.status().queue_len,
        commits,
        took,
    }
}

/// The queued messages in delivery order: action and the timestamp each carries.
pub fn queued(dir: &Path) -> Vec<(String, String)> {
    let store = Store::open(dir).unwrap();
    store
        .load_queue("", usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, v)| {
            let m: QueuedMessage = serde_json::from_value(v).unwrap();
            let ts = m.payload["timestamp"].as_str().unwrap().to_string();
            (m.action.as_str().to_string(), ts)
        })
        .collect()
}
