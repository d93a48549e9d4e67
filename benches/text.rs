//! In-process CPU figures for the text work done on every command and every echoed message:
//! the `/incident` grammar and mrkdwn escaping. Run with `cargo bench --features bench --bench text`.
//!
//! These are far from any target (a command is parsed once per ack), so they are here to
//! catch a regression that would make them matter, not to be tuned.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use warroom::domain::command;
use warroom::slack::mrkdwn;

fn parse_commands(c: &mut Criterion) {
    let mut g = c.benchmark_group("command_parse");
    let inputs = [
        (
            "declare",
            "declare RDS connection exhaustion behind the API fleet sev2",
        ),
        (
            "status_note",
            "status identified pool size 20 is too small for the 40 tasks",
        ),
        (
            "note_backdated",
            "note at 13:50 first 5xx alarms on the ALB",
        ),
        ("lead", "lead <@U024BE7LH|alice>"),
        ("usage_error", "staus investigating"),
    ];
    for (name, text) in inputs {
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| command::parse(black_box(text))));
    }
    g.finish();
}

fn escape_text(c: &mut Criterion) {
    let mut g = c.benchmark_group("mrkdwn_escape");
    let plain =
        "checked the dashboards, p99 latency is back to 180ms after the pool resize ".repeat(4);
    let hostile = "<!channel> <https://evil.example|click> & <@U0ALICE> ".repeat(6);
    let unicode = "déploiement terminé ✅ — ロールバック完了 👍 ".repeat(6);
    for (name, text) in [
        ("plain", &plain),
        ("hostile", &hostile),
        ("unicode", &unicode),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| mrkdwn::escape(black_box(text))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = parse_commands, escape_text
}
criterion_main!(benches);
