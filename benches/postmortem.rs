//! Postmortem drafts of a large incident: 10,000 timeline entries (messages, pinned ones,
//! notes), built into data and rendered to Markdown and HTML with the shipped templates.
//! Run with `cargo bench --bench postmortem`.
//!
//! The target (issue 5) is "well under a second" for the whole draft; the tests check that
//! such a draft is complete and cut where promised, this measures how long it takes.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use warroom::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use warroom::postmortem::{self, Format, Options, Templates};
use warroom::store::{Evidence, IncidentRecord, PostmortemSource, TimelineEntry};

/// An incident of `n` entries over about eight hours: two people talking, every 100th
/// message pinned, a note every 500 entries, resolved at the end.
fn source(n: usize) -> PostmortemSource {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 13, 0, 0).unwrap();
    let user = |id: &str| UserId::parse(id).unwrap();
    let entries = (0..n)
        .map(|i| {
            let note = i % 500 == 250;
            let at = t0 + chrono::Duration::seconds(3 * i as i64);
            TimelineEntry {
                id: i as i64 + 1,
                incident_id: IncidentId(1),
                kind: if note {
                    EntryKind::Note
                } else {
                    EntryKind::Message
                },
                occurred_at: at,
                recorded_at: at,
                actor: Some(if i % 2 == 0 { "U0BOB" } else { "U0CAROL" }.to_string()),
                text: format!(
                    "message {i}: pool at 97% on db-{} | p99 `1.8s` <@U0ALICE>",
                    i % 7
                ),
                slack_ts: None,
                thread_ts: None,
                key_event: note || i % 100 == 0,
                edited_at: None,
                deleted_at: None,
                revisions: Vec::new(),
            }
        })
        .collect();
    let resolved = t0 + chrono::Duration::seconds(3 * n as i64);
    PostmortemSource {
        record: IncidentRecord {
            incident: Incident {
                id: IncidentId(1),
                title: "RDS connection exhaustion".to_string(),
                severity: Severity::Sev1,
                status: Status::Resolved,
                lead: Some(user("U0BOB")),
                declared_by: user("U0ALICE"),
                opened_at: t0,
                resolved_at: Some(resolved),
            },
            channel_name: "inc-20261120-rds".to_string(),
            channel_id: Some("C1".to_string()),
            header_ts: None,
            header_pinned: true,
            members_invited: true,
        },
        entries,
        details: HashMap::new(),
        actions: Vec::new(),
        evidence: Evidence::default(),
    }
}

fn draft(c: &mut Criterion) {
    let templates = Templates::load(None).unwrap();
    let options = Options {
        gap: chrono::Duration::minutes(30),
        appendix_max_bytes: 256 * 1024,
        escalation_target: chrono::Duration::minutes(30),
    };
    let source = source(10_000);
    let now = Utc::now();
    let mut g = c.benchmark_group("postmortem_10k_entries");
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(20);
    g.bench_function("build", |b| {
        b.iter(|| postmortem::build(black_box(&source), &options, now))
    });
    let data = postmortem::build(&source, &options, now);
    for format in [Format::Markdown, Format::Html] {
        g.bench_function(format!("render_{}", format.extension()), |b| {
            b.iter(|| templates.render(format, black_box(&data)).unwrap())
        });
    }
    g.bench_function("build_and_render_md", |b| {
        b.iter(|| {
            postmortem::draft(
                &templates,
                black_box(&source),
                &options,
                now,
                Format::Markdown,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, draft);
criterion_main!(benches);
