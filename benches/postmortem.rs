//! Figure 4: postmortem drafts of incidents with 100, 10,000 and 100,000 timeline entries
//! (messages, pinned ones, notes), read from SQLite, built into data and rendered to
//! Markdown and HTML with the shipped templates and the default `[postmortem]` settings.
//! Run with `cargo bench --features bench --bench postmortem`.
//!
//! Per size, in group `postmortem_<n>_entries`:
//! - `read`: `store::postmortem_source` on a database holding the incident (1 % of its
//!   messages edited once), what `/incident postmortem` reads first;
//! - `build`: `postmortem::build`, the pure model (durations, quiet spells, participants);
//! - `render_md`, `render_html`: the templates on the built data;
//! - `draft_md`: build + render to Markdown, what the command does after the read.
//!
//! The target (issue 5) is "well under a second" for the whole draft; the tests check that
//! such a draft is complete and cut where promised, this measures how long it takes.

#[path = "support/raw_sqlite.rs"]
mod raw_sqlite;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use warroom::domain::{EntryKind, Incident, IncidentId, Severity, Status, UserId};
use warroom::domain::{IncidentRecord, TimelineEntry};
use warroom::postmortem::{self, Format, Options, Templates};
use warroom::store::{Evidence, PostmortemSource, Store};

/// The figure's sizes.
const SIZES: [usize; 3] = [100, 10_000, 100_000];

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
            private: false,
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
            channel_id: Some(warroom::domain::ChannelId::new("C1")),
            header_ts: None,
            header_pinned: true,
            members_invited: true,
            incident_type: None,
        },
        entries,
        details: HashMap::new(),
        actions: Vec::new(),
        names: Default::default(),
        roles: Vec::new(),
        checklist: Vec::new(),
        evidence: Evidence::default(),
    }
}

/// A migrated database holding one incident with `n` message entries, every 100th of them
/// edited once (so the read also joins revisions). Returns the temp dir, the URL and the id.
fn database(n: usize) -> (tempfile::TempDir, String, IncidentId) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("postmortem.db");
    let url = format!("sqlite://{}", path.display());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        Store::open(&url).await.expect("store opens").close().await;
    });
    raw_sqlite::fill(&path, 1, n as u64, |_| "C0PM".to_string()).expect("fill");
    let conn = raw_sqlite::open(&path).expect("open");
    conn.execute_batch(
        "INSERT INTO timeline_revisions (entry_id, text, replaced_at)
             SELECT id, 'the text before the edit', occurred_at FROM timeline WHERE id % 100 = 0;
         UPDATE timeline SET edited_at = occurred_at WHERE id % 100 = 0;",
    )
    .expect("edits");
    let id: i64 = conn
        .query_row("SELECT id FROM incidents", [], |r| r.get(0))
        .expect("incident");
    (dir, url, IncidentId(id))
}

fn draft(c: &mut Criterion) {
    let templates = Templates::load(None).expect("templates");
    let options = Options::from_config(&warroom::config::Config::default());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let now = Utc::now();
    for n in SIZES {
        let source = source(n);
        let data = postmortem::build(&source, &options, now);
        let (_dir, url, id) = database(n);
        let store = rt.block_on(Store::open(&url)).expect("store");
        let mut g = c.benchmark_group(format!("postmortem_{n}_entries"));
        g.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            g.sample_size(10);
            g.measurement_time(Duration::from_secs(20));
        } else {
            g.sample_size(20);
            g.measurement_time(Duration::from_secs(10));
        }
        g.bench_function("read", |b| {
            b.to_async(&rt).iter(|| async {
                warroom::store::postmortem_source(store.db(), id)
                    .await
                    .expect("read")
            })
        });
        g.bench_function("build", |b| {
            b.iter(|| postmortem::build(black_box(&source), &options, now))
        });
        for format in [Format::Markdown, Format::Html] {
            g.bench_function(format!("render_{}", format.extension()), |b| {
                b.iter(|| templates.render(format, black_box(&data)).expect("render"))
            });
        }
        g.bench_function("draft_md", |b| {
            b.iter(|| {
                postmortem::draft(
                    &templates,
                    black_box(&source),
                    &options,
                    now,
                    Format::Markdown,
                )
                .expect("draft")
            })
        });
        g.finish();
        rt.block_on(store.close());
    }
}

criterion_group!(benches, draft);
criterion_main!(benches);
