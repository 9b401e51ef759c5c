//! The report of a full catalogue: 123 scenarios of 30 s each with the raw 100 ms status
//! stream (the worst case; the runner records changes only), OCPP traffic, faults, steps and a
//! failing and a flaky scenario. The budget is < 2 s and < 5 MB for `report.html`; the size is
//! printed once. `RIG_REPORT_BENCH_DIR=<artifact root of a real run>` benches that run's
//! `run.json` too.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use rig::report;

fn bench_root(c: &mut Criterion, name: &str, root: &Path, run: &report::RunSummary) {
    let written = report::write(root, run).expect("the report is written");
    println!(
        "{name}: report.html {:.2} MB for {} scenarios ({} timelines drawn)",
        written.bytes as f64 / 1e6,
        run.scenarios.len(),
        written.timelines
    );
    c.bench_function(name, |b| {
        b.iter(|| black_box(report::write(root, run).expect("the report is written")))
    });
}

fn report(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let run = report::sample::run(dir.path(), 123, 30).expect("sample artifacts");
    bench_root(c, "report of 123 scenarios x 30 s", dir.path(), &run);
    if let Some(root) = std::env::var_os("RIG_REPORT_BENCH_DIR") {
        let root = Path::new(&root);
        let run = report::read_summary(root).expect("run.json of the given run");
        bench_root(c, "report of the given run", root, &run);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = report
}
criterion_main!(benches);
