//! Core-side speed: the offline authorization decision, and the transaction-message queue
//! (enqueue 10,000 messages offline, then drain them through a CSMS that answers at once).

use std::hint::black_box;
use std::time::Duration;

use charger_core::auth::{offline_decision, Cache, LocalList, OfflinePolicy, TagRecord};
use charger_core::{BoardInput, Charger, Input, Now, Output, PilotState, Restored, Settings};
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo};

fn t0() -> Now {
    Now {
        mono_ms: 0,
        utc: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    }
}

fn bench_offline_decision(c: &mut Criterion) {
    let now = t0().utc;
    let list = LocalList::restore(std::iter::empty());
    let mut list = list;
    let records: Vec<TagRecord> = (0..1000)
        .map(|i| TagRecord {
            tag: format!("L{i:07X}"),
            status: "Accepted".into(),
            expiry: None,
            parent: None,
            seq: 0,
        })
        .collect();
    list.replace(1, records);
    let mut cache = Cache::restore(std::iter::empty(), 1000);
    let ok = IdTagInfo {
        status: AuthorizationStatus::Accepted,
        ..Default::default()
    };
    for i in 0..1000 {
        cache.update(&format!("C{i:07X}"), &ok, now);
    }
    let policy = OfflinePolicy {
        local_list_enabled: true,
        cache_enabled: true,
        local_authorize_offline: true,
        allow_offline_tx_for_unknown_id: false,
    };
    let mut g = c.benchmark_group("offline_decision");
    for (name, tag) in [
        ("local_list_hit", "l00001f4"),
        ("cache_hit", "C00001F4"),
        ("unknown", "DEADBEEF"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| offline_decision(black_box(tag), &list, &cache, policy, now))
        });
    }
    g.finish();
}

/// A charger offline with a transaction whose 10,000 periodic samples (1 s apart) are queued.
fn queued_charger(n: u64) -> (Charger, Now) {
    let settings = Settings {
        installer_config: vec![
            ("AllowOfflineTxForUnknownId".into(), "true".into()),
            ("MeterValueSampleInterval".into(), "1".into()),
            ("HeartbeatInterval".into(), "0".into()),
        ],
        ..Settings::default()
    };
    let mut now = t0();
    let mut core = Charger::new(settings, Restored::default(), now).unwrap();
    core.handle_input(Input::Board(BoardInput::Pilot(PilotState::B)), now);
    core.handle_input(Input::Board(BoardInput::Card(Some(vec![1, 2, 3, 4]))), now);
    for _ in 0..n - 1 {
        now = now.plus_ms(1000);
        core.handle_input(Input::Tick, now);
    }
    while core.poll_output().is_some() {}
    (core, now)
}

/// A charger offline with `sessions` short transactions queued (StartTransaction + StopTransaction
/// each): many transactions in the queue at once.
fn queued_sessions(sessions: u64) -> (Charger, Now) {
    let settings = Settings {
        installer_config: vec![
            ("AllowOfflineTxForUnknownId".into(), "true".into()),
            ("HeartbeatInterval".into(), "0".into()),
        ],
        ..Settings::default()
    };
    let mut now = t0();
    let mut core = Charger::new(settings, Restored::default(), now).unwrap();
    let card = Input::Board(BoardInput::Card(Some(vec![1, 2, 3, 4])));
    for _ in 0..sessions {
        now = now.plus_ms(1000);
        core.handle_input(Input::Board(BoardInput::Pilot(PilotState::B)), now);
        core.handle_input(card.clone(), now);
        core.handle_input(card.clone(), now);
        core.handle_input(Input::Board(BoardInput::Pilot(PilotState::A)), now);
        while core.poll_output().is_some() {}
    }
    (core, now)
}

/// Connects and answers every CALL at once until the queue is empty; returns messages delivered.
fn drain(core: &mut Charger, now: Now) -> usize {
    core.handle_input(Input::Connected, now);
    let mut delivered = 0;
    loop {
        let mut answer = None;
        while let Some(out) = core.poll_output() {
            if let Output::Send(frame) = out {
                let rest = &frame[4..];
                let id = &rest[..rest.find('"').unwrap()];
                let action = frame.split('"').nth(3).unwrap_or_default();
                let payload = match action {
                    "BootNotification" => {
                        r#"{"status":"Accepted","currentTime":"2026-11-23T12:00:00Z","interval":0}"#
                    }
                    "StartTransaction" => {
                        r#"{"idTagInfo":{"status":"Accepted"},"transactionId":7}"#
                    }
                    _ => "{}",
                };
                if matches!(
                    action,
                    "StartTransaction" | "MeterValues" | "StopTransaction"
                ) {
                    delivered += 1;
                }
                answer = Some(format!(r#"[3,"{id}",{payload}]"#));
            }
        }
        match answer {
            Some(a) => core.handle_input(Input::Frame(a), now),
            None => break,
        }
    }
    delivered
}

fn bench_queue(c: &mut Criterion) {
    const N: u64 = 10_000;
    let mut g = c.benchmark_group("transaction_queue");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(N));
    g.bench_function("enqueue_10k_offline", |b| b.iter(|| queued_charger(N)));
    g.bench_function("drain_10k", |b| {
        b.iter_batched(
            || queued_charger(N),
            |(mut core, now)| {
                let n = drain(&mut core, now);
                assert_eq!(n as u64, N);
                assert_eq!(core.status().queue_len, 0);
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("drain_10k_5000_sessions", |b| {
        b.iter_batched(
            || queued_sessions(N / 2),
            |(mut core, now)| {
                let n = drain(&mut core, now);
                assert_eq!(n as u64, N);
                assert_eq!(core.status().queue_len, 0);
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_offline_decision, bench_queue);
criterion_main!(benches);
