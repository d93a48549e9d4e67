//! In-process SQLite figures: what one durable write costs, from the raw limit down to
//! warroom's own store calls. Run with `cargo bench --features bench --bench store`.
//!
//! Every database is a real file in a temp dir, created and migrated by `Store::open`, so
//! schema and durability settings (WAL, `synchronous=NORMAL`) are exactly warroom's.
//! - `raw_rusqlite`: one timeline INSERT per transaction through the C library: the limit.
//! - `raw_sqlx`: the same statement through sqlx (warroom's driver), one pooled connection,
//!   pinged on every acquire as `Store::open`'s pool does; `raw_sqlx_no_ping` without.
//! - `record_inbound`: `Store::record_inbound`, the write done before every ack.
//! - `add_entry`: `Store::add_entry`, the worker's timeline write (+ inbox mark, one tx).
//!
//! And batched writes (`sqlite_batch`, per row):
//! - `add_entries_64`: `Store::add_entries`, the worker's write for a run of 64 messages
//!   (64 entries + 64 inbox marks, one tx): how long the intake may wait behind a run.
//! - `inbox_rows_1` / `inbox_rows_4`: the inbox INSERT with one row, and with four rows in
//!   one statement: what group commit of four concurrent envelopes would cost per envelope.

#[path = "support/raw_sqlite.rs"]
mod raw_sqlite;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use warroom::domain::{EntryKind, IncidentId};
use warroom::store::{NewEntry, Store};

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    url: String,
}

fn migrated_db(rt: &tokio::runtime::Runtime) -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}", path.display());
    rt.block_on(async {
        Store::open(&url).await.expect("store opens").close().await;
    });
    Db {
        _dir: dir,
        path,
        url,
    }
}

/// The `n`th message entry of a bench: unique key, the length of a typical message.
fn entry(
    incident_id: IncidentId,
    channel: &str,
    n: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> NewEntry {
    let ts = format!("{}.{:06}", 1_800_000_000 + n / 1_000_000, n % 1_000_000);
    NewEntry {
        incident_id,
        dedupe_key: warroom::store::timeline_message_key(channel, &ts),
        kind: EntryKind::Message,
        occurred_at: now,
        actor: Some("U0ALICE".into()),
        text: format!("entry {n} checking the ALB 5xx graph and the RDS connection count"),
        slack_ts: Some(ts),
        thread_ts: None,
        key_event: false,
    }
}

fn writes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("sqlite_write");
    g.throughput(Throughput::Elements(1));

    {
        let db = migrated_db(&rt);
        let conn = raw_sqlite::open(&db.path).expect("open");
        let incident_id = raw_sqlite::insert_incident(&conn, 1, "C0RAW").expect("incident");
        let mut seq = 0u64;
        g.bench_function("raw_rusqlite", |b| {
            b.iter(|| {
                seq += 1;
                raw_sqlite::insert_entry(
                    &conn,
                    &raw_sqlite::RawMessage {
                        incident_id,
                        channel: "C0RAW",
                        seq,
                    },
                )
                .expect("insert")
            })
        });
    }

    // sqlx pools ping a connection on every acquire unless told not to; `Store::open`
    // keeps that default, so both variants are measured.
    for (name, ping) in [("raw_sqlx", true), ("raw_sqlx_no_ping", false)] {
        let db = migrated_db(&rt);
        let incident_id = {
            let conn = raw_sqlite::open(&db.path).expect("open");
            raw_sqlite::insert_incident(&conn, 1, "C0SQLX").expect("incident")
        };
        let pool = rt.block_on(async {
            let options = SqliteConnectOptions::from_str(&db.url)
                .expect("url")
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(ping)
                .connect_with(options)
                .await
                .expect("pool")
        });
        let seq = AtomicU64::new(0);
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let ts = format!("{}.{:06}", 1_800_000_000 + n / 1_000_000, n % 1_000_000);
                sqlx::query(
                    "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at,
                        recorded_at, actor, text, slack_ts, thread_ts, key_event)
                     VALUES (?, ?, 'message', ?, ?, 'U0ALICE', ?, ?, NULL, 0)",
                )
                .bind(incident_id)
                .bind(format!("msg:C0SQLX:{ts}"))
                .bind("2026-11-21T09:05:00.000Z")
                .bind("2026-11-21T09:05:00.000Z")
                .bind(format!(
                    "raw insert {n} checking the ALB 5xx graph and the RDS connection count"
                ))
                .bind(&ts)
                .execute(&pool)
                .await
                .expect("insert")
            })
        });
        rt.block_on(pool.close());
    }

    {
        let db = migrated_db(&rt);
        let store = rt.block_on(Store::open(&db.url)).expect("store");
        let payload = r#"{"Message":{"channel":"C0STORE","user":"U0ALICE","ts":"1800000000.000100","thread_ts":null,"text":"checking the ALB 5xx graph and the RDS connection count","at":"2026-11-21T09:05:00Z"}}"#;
        let seq = AtomicU64::new(0);
        let now = chrono::Utc::now();
        g.bench_function("record_inbound", |b| {
            b.to_async(&rt).iter(|| async {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                store
                    .record_inbound(&format!("ev:Ev{n:010}"), payload, now)
                    .await
                    .expect("record")
            })
        });
        rt.block_on(store.close());
    }

    {
        let db = migrated_db(&rt);
        let incident_id = {
            let conn = raw_sqlite::open(&db.path).expect("open");
            raw_sqlite::insert_incident(&conn, 1, "C0ENTRY").expect("incident")
        };
        let store = rt.block_on(Store::open(&db.url)).expect("store");
        let seq = AtomicU64::new(0);
        let now = chrono::Utc::now();
        g.bench_function("add_entry", |b| {
            b.to_async(&rt).iter(|| async {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let entry = entry(IncidentId(incident_id), "C0ENTRY", n, now);
                store.add_entry(&entry, now, None).await.expect("entry")
            })
        });
        rt.block_on(store.close());
    }
    g.finish();
}

fn batches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("sqlite_batch");

    {
        const RUN: u64 = 64;
        let db = migrated_db(&rt);
        let incident_id = {
            let conn = raw_sqlite::open(&db.path).expect("open");
            raw_sqlite::insert_incident(&conn, 1, "C0BATCH").expect("incident")
        };
        let store = rt.block_on(Store::open(&db.url)).expect("store");
        let seq = AtomicU64::new(0);
        let now = chrono::Utc::now();
        g.throughput(Throughput::Elements(RUN));
        g.bench_function("add_entries_64", |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, seq) = (&store, &seq);
                async move {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        // Setup, not timed: 64 recorded events and their entries, as the
                        // worker would have them in hand.
                        let first = seq.fetch_add(RUN, Ordering::Relaxed);
                        for n in first..first + RUN {
                            store
                                .record_inbound(&format!("ev:Ev{n:010}"), "{}", now)
                                .await
                                .expect("record");
                        }
                        let ids: Vec<i64> = store
                            .pending_inbound(RUN as i64)
                            .await
                            .expect("pending")
                            .iter()
                            .map(|r| r.id)
                            .collect();
                        let entries: Vec<NewEntry> = (first..first + RUN)
                            .map(|n| entry(IncidentId(incident_id), "C0BATCH", n, now))
                            .collect();
                        let start = std::time::Instant::now();
                        store
                            .add_entries(&entries, &ids, now)
                            .await
                            .expect("entries");
                        spent += start.elapsed();
                    }
                    spent
                }
            })
        });
        rt.block_on(store.close());
    }

    for rows in [1u64, 4] {
        let db = migrated_db(&rt);
        let store = rt.block_on(Store::open(&db.url)).expect("store");
        rt.block_on(store.close());
        let pool = rt.block_on(async {
            let options = SqliteConnectOptions::from_str(&db.url)
                .expect("url")
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true);
            SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .expect("pool")
        });
        let values = vec!["(?, ?, ?)"; rows as usize].join(", ");
        let sql = format!(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES {values}
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
        );
        let payload = r#"{"Message":{"channel":"C0STORE","user":"U0ALICE","ts":"1800000000.000100","thread_ts":null,"text":"checking the ALB 5xx graph and the RDS connection count","at":"2026-11-21T09:05:00Z"}}"#;
        let seq = AtomicU64::new(0);
        g.throughput(Throughput::Elements(rows));
        g.bench_function(format!("inbox_rows_{rows}"), |b| {
            b.to_async(&rt).iter(|| async {
                let first = seq.fetch_add(rows, Ordering::Relaxed);
                let mut q = sqlx::query(&sql);
                for n in first..first + rows {
                    q = q
                        .bind(format!("ev:Ev{n:010}"))
                        .bind(payload)
                        .bind("2026-11-21T09:05:00.000Z");
                }
                q.fetch_all(&pool).await.expect("insert")
            })
        });
        rt.block_on(pool.close());
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = writes, batches
}
criterion_main!(benches);
