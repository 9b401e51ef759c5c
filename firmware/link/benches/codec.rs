//! Codec throughput: typed frame encode/decode and the SLCAN stream decoder on a realistic
//! board stream (status + meter at 10 Hz, events now and then).

use chargerig_link::slcan::{encode_frame, SlcanDecoder};
use chargerig_link::{BoardEvent, BoardStatus, ConnectorStatus, EventKind, Frame, PilotState};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn board_stream(n: usize) -> (Vec<u8>, usize) {
    let mut out = String::new();
    let mut frames = 0;
    for i in 0..n {
        let s = BoardStatus {
            pilot: PilotState::C,
            pwm_duty_permille: 266,
            contactor_closed: true,
            cable_locked: true,
            online: i % 50 != 0,
            transaction_active: true,
            fault: false,
            connector_status: ConnectorStatus::Charging,
            sequence: i as u8,
            queue_len: 0,
        };
        out.push_str(&encode_frame(&Frame::Status(s).encode()));
        out.push_str(&encode_frame(
            &Frame::Meter {
                energy_wh: i as u32,
                deci_amps: 160,
            }
            .encode(),
        ));
        frames += 2;
        if i % 10 == 0 {
            out.push_str(&encode_frame(
                &Frame::Event(BoardEvent {
                    board_ms: i as u32 * 100,
                    kind: EventKind::PwmChanged,
                    arg: 266,
                    sequence: i as u8,
                })
                .encode(),
            ));
            frames += 1;
        }
    }
    (out.into_bytes(), frames)
}

fn codec(c: &mut Criterion) {
    let status = Frame::Status(BoardStatus::default());
    let raw = status.encode();
    c.bench_function("frame encode (status)", |b| {
        b.iter(|| black_box(&status).encode())
    });
    c.bench_function("frame decode (status)", |b| {
        b.iter(|| Frame::decode(black_box(&raw)))
    });

    let (stream, frames) = board_stream(1000);
    let mut g = c.benchmark_group("slcan decode");
    g.throughput(Throughput::Elements(frames as u64));
    g.bench_function("board stream, 64-byte reads", |b| {
        b.iter(|| {
            let mut d = SlcanDecoder::new();
            let mut n = 0usize;
            for chunk in stream.chunks(64) {
                n += d.push(chunk).count();
            }
            assert_eq!(n, frames);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
