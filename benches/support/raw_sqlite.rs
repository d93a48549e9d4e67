//! The raw SQLite limit, shared by `benches/store.rs` and `examples/load.rs` (included with
//! `#[path]`): warroom's own schema (created by `Store::open`, so the migrations are the real
//! ones) written straight through the C library with rusqlite, with the durability settings
//! `Store::open` uses (WAL, `synchronous=NORMAL`, foreign keys on). Also the bulk fill used
//! for the memory figure (1,000 incidents, 1,000,000 timeline rows).

// Each includer uses a different part.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

/// Open `path` (already created and migrated by `Store::open`) the way `Store::open` does.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// Insert one open incident bound to `channel_id`; returns its id.
pub fn insert_incident(conn: &Connection, n: u64, channel_id: &str) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO incidents (source_key, title, severity, status, lead_user, declared_by,
                                opened_at, channel_name, channel_id, updated_at)
         VALUES (?1, ?2, 2, 'investigating', 'U0ALICE', 'U0ALICE', '2026-11-21T09:00:00.000Z',
                 ?3, ?4, '2026-11-21T09:00:00.000Z')",
        params![
            format!("bench:{n}"),
            format!("Load test incident {n}"),
            format!("inc-20261121-load-{n}"),
            channel_id
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// One message entry as the worker writes it (same columns, similar sizes).
pub struct RawMessage<'a> {
    pub incident_id: i64,
    pub channel: &'a str,
    pub seq: u64,
}

const INSERT_ENTRY: &str = "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at,
        recorded_at, actor, text, slack_ts, thread_ts, key_event)
     VALUES (?1, ?2, 'message', ?3, ?3, 'U0ALICE', ?4, ?5, NULL, 0)";

/// Insert one timeline entry in its own (autocommit) transaction: the durable unit of work a
/// bot must finish per event before acking it.
pub fn insert_entry(conn: &Connection, m: &RawMessage<'_>) -> rusqlite::Result<()> {
    let ts = format!(
        "{}.{:06}",
        1_800_000_000 + m.seq / 1_000_000,
        m.seq % 1_000_000
    );
    conn.prepare_cached(INSERT_ENTRY)?.execute(params![
        m.incident_id,
        format!("msg:{}:{ts}", m.channel),
        "2026-11-21T09:05:00.000Z",
        format!(
            "raw insert {} checking the ALB 5xx graph and the RDS connection count",
            m.seq
        ),
        ts
    ])?;
    Ok(())
}

/// Raw limit: `n` timeline inserts, one transaction each, on one connection. Returns
/// inserts per second. `path` must hold a migrated database.
pub fn insert_rate(path: &Path, n: u64) -> rusqlite::Result<f64> {
    let conn = open(path)?;
    // A fresh incident and channel per call, so repeated calls on one file never collide.
    let base: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM timeline", [], |r| {
        r.get(0)
    })?;
    let channel = format!("C0RAW{base}");
    let incident_id = insert_incident(&conn, 1_000_000_000 + base as u64, &channel)?;
    let start = Instant::now();
    for seq in 0..n {
        insert_entry(
            &conn,
            &RawMessage {
                incident_id,
                channel: &channel,
                seq,
            },
        )?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Fill a migrated database with `incidents` open incidents (channel ids from `channel_of`)
/// and `rows_per_incident` message entries each, in large transactions (set-up, not a figure).
pub fn fill(
    path: &Path,
    incidents: u64,
    rows_per_incident: u64,
    channel_of: impl Fn(u64) -> String,
) -> rusqlite::Result<()> {
    let mut conn = open(path)?;
    for n in 0..incidents {
        let tx = conn.transaction()?;
        let channel = channel_of(n);
        let incident_id = insert_incident(&tx, n, &channel)?;
        for i in 0..rows_per_incident {
            insert_entry(
                &tx,
                &RawMessage {
                    incident_id,
                    channel: &channel,
                    seq: n * rows_per_incident + i,
                },
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}
