//! `warroom migrate-db`: copy every table of one database into another, empty one (SQLite
//! to PostgreSQL when a team moves to several replicas), verified by counting.
//!
//! The source is read in one transaction (one consistent moment); the target is written
//! in one unit of work, so a failed copy leaves it empty. Ids are copied as they are (the
//! rows refer to each other by id), and PostgreSQL's identity counters are moved past them.

use std::collections::HashMap;

use anyhow::{bail, Context};
use sqlx::any::AnyRow;
use sqlx::{Column, Row};

use super::{dialect, Backend, Store};

/// Every table warroom keeps, parents before children. A migration that adds a table adds
/// it here (a test fails until it does).
pub const TABLES: &[&str] = &[
    "inbox",
    "incidents",
    "drills",
    "timeline",
    "timeline_revisions",
    "alarm_transitions",
    "alarm_links",
    "alarm_incidents",
    "alarm_graphs",
    "health_events_seen",
    "aws_facts",
    "action_items",
    "postmortem_drafts",
    "timers",
    "outbox",
    "summaries",
    "recipient_problems",
    "escalation",
    "support_cases",
    "support_communications",
    "user_names",
    "incident_roles",
    "catchups_sent",
    "checklist_steps",
];

/// Rows per INSERT: far below PostgreSQL's 65,535 bound values.
const ROWS_PER_INSERT: usize = 200;

/// What was copied: rows per table, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, i64)>,
}

/// Copy every table of `from` into `to`, which must be PostgreSQL and hold no rows yet; then
/// count both sides, table by table.
pub async fn copy_all(from: &Store, to: &Store) -> anyhow::Result<CopyReport> {
    if to.backend() != Backend::Postgres {
        bail!("the target must be a PostgreSQL database (postgres://…)");
    }
    let (from_version, _) = from.schema_version().await?;
    let (to_version, _) = to.schema_version().await?;
    let from_latest = from.known_migrations().last().map(|m| m.0).unwrap_or(0);
    if from_version != from_latest {
        bail!("the source is at migration {from_version}, this warroom's latest is {from_latest}");
    }
    let to_known = to.known_migrations();
    let shared = to_known.iter().any(|(v, _)| *v == from_version);
    if !shared || to_version < from_version {
        bail!("the target's schema (migration {to_version}) does not match the source's ({from_version})");
    }
    for table in TABLES {
        let n = count(to, table).await?;
        if n > 0 {
            bail!(
                "the target already holds data ({n} rows in {table}); migrate-db only copies \
                 into an empty database"
            );
        }
    }
    let mut source = from.begin().await?;
    let mut target = to.begin().await?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(source.conn())
            .await
            .with_context(|| format!("cannot read {table}"))?;
        let types = dialect::column_types(target.conn(), table).await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            insert_rows(&mut target, table, chunk, &types).await?;
        }
        dialect::after_copy(target.conn(), table).await?;
        tables.push((*table, rows.len() as i64));
    }
    target.commit().await?;
    source.rollback().await?;
    for (table, copied) in &tables {
        let (a, b) = (count(from, table).await?, count(to, table).await?);
        if b != *copied || a < b {
            bail!("{table}: {copied} rows read, {b} in the target, {a} in the source now");
        }
    }
    Ok(CopyReport { tables })
}

async fn count(store: &Store, table: &str) -> anyhow::Result<i64> {
    let row = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&store.pool)
        .await
        .with_context(|| format!("cannot count {table}"))?;
    Ok(row.try_get(0)?)
}

/// The source rows of a chunk into the target, each value as the target column's type.
async fn insert_rows(
    target: &mut super::Tx,
    table: &str,
    rows: &[AnyRow],
    types: &HashMap<String, dialect::ColumnType>,
) -> anyhow::Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        super::value_rows(rows.len(), columns.len())
    );
    let mut q = sqlx::query(&sql);
    for row in rows {
        for (i, column) in columns.iter().enumerate() {
            let ty = types
                .get(column)
                .with_context(|| format!("{table}.{column} is missing in the target"))?;
            q = match ty {
                dialect::ColumnType::Integer => q.bind(row.try_get::<Option<i64>, _>(i)?),
                dialect::ColumnType::Text => q.bind(row.try_get::<Option<String>, _>(i)?),
                dialect::ColumnType::Bytes => q.bind(row.try_get::<Option<Vec<u8>>, _>(i)?),
            };
        }
    }
    q.execute(target.conn())
        .await
        .with_context(|| format!("cannot write {table}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{pg_store, temp_store};
    use crate::store::{graphs, inbox, incidents, outbox, timeline};
    use chrono::Utc;

    /// Every table of the schema is in [`TABLES`] (a migration that adds one must add it).
    #[tokio::test]
    async fn every_table_is_copied() {
        let (store, _dir) = temp_store().await;
        let rows = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let mut schema: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        schema.sort();
        listed.sort();
        assert_eq!(schema, listed);
    }

    /// A SQLite database with an incident, its timeline, an outbox row, an alarm graph (a
    /// PNG: bytes that are not text) and an event set aside moves to an empty PostgreSQL
    /// database whole: same rows, same ids, and new rows get new ids there.
    #[tokio::test]
    async fn a_sqlite_database_moves_to_postgres_row_for_row() {
        let (from, _dir) = temp_store().await;
        let to = pg_store().await;
        let now = Utc::now();
        from.record_inbound("ev:1", "{\"x\":1}", now).await.unwrap();
        let mut tx = from.begin().await.unwrap();
        let new = incidents::NewIncident {
            private: false,
            source_key: "cmd:1".into(),
            title: "Checkout \u{1F525} errors".into(),
            severity: crate::domain::Severity::Sev1,
            declared_by: crate::domain::UserId::parse("U0ALICE").unwrap(),
            opened_at: now,
            channel_name: "inc-checkout".into(),
        };
        let (record, _) = incidents::create(&mut tx, &new, now).await.unwrap();
        let msg = outbox::NewOutgoing {
            destination: crate::domain::OutboxDestination::channel("C1"),
            text: "hello".into(),
            blocks: None,
        };
        outbox::enqueue(&mut tx, &msg, now).await.unwrap();
        let graph = graphs::Graph {
            alarm_name: "checkout-5xx".into(),
            title: "checkout-5xx around the breach".into(),
            png: Some(vec![0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe, 0x0d, 0x0a]),
            slack_file_id: Some("F0GRAPH".into()),
            permalink: None,
            unavailable: None,
            posted_at: now,
        };
        graphs::keep(&mut tx, record.incident.id, &graph)
            .await
            .unwrap();
        let pending = inbox::pending(tx.db(), 1).await.unwrap();
        inbox::set_aside(&mut tx, pending[0].id, "bad stored time: corrupt", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let report = copy_all(&from, &to).await.unwrap();
        let counted: HashMap<&str, i64> = report.tables.iter().copied().collect();
        assert_eq!(counted["incidents"], 1);
        assert_eq!(counted["timeline"], 1);
        assert_eq!(counted["inbox"], 1);
        assert_eq!(counted["outbox"], 1);
        assert_eq!(counted["alarm_graphs"], 1);
        let copied_graphs = graphs::of_incident(to.db(), record.incident.id)
            .await
            .unwrap();
        assert_eq!(copied_graphs[0].png, graph.png, "the PNG byte for byte");
        assert_eq!(
            copied_graphs,
            graphs::of_incident(from.db(), record.incident.id)
                .await
                .unwrap()
        );
        let set_aside = inbox::failed(to.db()).await.unwrap();
        assert_eq!(set_aside.len(), 1);
        assert_eq!(set_aside[0].error, "bad stored time: corrupt");
        let copied = incidents::get(to.db(), record.incident.id).await.unwrap();
        assert_eq!(copied, record);
        assert_eq!(
            timeline::of_incident(to.db(), record.incident.id)
                .await
                .unwrap(),
            timeline::of_incident(from.db(), record.incident.id)
                .await
                .unwrap()
        );
        // The identity counters moved past the copied ids.
        let mut tx = to.begin().await.unwrap();
        let second = incidents::NewIncident {
            source_key: "cmd:2".into(),
            ..new.clone()
        };
        let (next, _) = incidents::create(&mut tx, &second, now).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(next.incident.id.0, record.incident.id.0 + 1);
        // Never into a database that holds data.
        let again = copy_all(&from, &to).await.unwrap_err().to_string();
        assert!(again.contains("already holds data"), "{again}");
    }

    /// A database with only a drill (incident -1) moves over; the identity counter is not
    /// moved below 1, so the first real incident is still #1 and the next drill is -2.
    #[tokio::test]
    async fn a_database_with_only_drills_moves_and_counts_on() {
        let (from, _dir) = temp_store().await;
        let to = pg_store().await;
        let now = Utc::now();
        let new = |key: &str| incidents::NewIncident {
            private: false,
            source_key: key.into(),
            title: "drill".into(),
            severity: crate::domain::Severity::Sev2,
            declared_by: crate::domain::UserId::parse("U0BOT").unwrap(),
            opened_at: now,
            channel_name: format!("drill-{key}"),
        };
        let mut tx = from.begin().await.unwrap();
        let (d1, _) = crate::store::drills::create(&mut tx, &new("d1"), "api", false, "U1", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(d1.incident.id.0, -1);
        let report = copy_all(&from, &to).await.unwrap();
        let counted: HashMap<&str, i64> = report.tables.iter().copied().collect();
        assert_eq!(counted["drills"], 1);
        let mut tx = to.begin().await.unwrap();
        let (real, _) = incidents::create(&mut tx, &new("i1"), now).await.unwrap();
        let (d2, _) = crate::store::drills::create(&mut tx, &new("d2"), "api", false, "U1", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!((real.incident.id.0, d2.incident.id.0), (1, -2));
        let kept = crate::store::drills::get(to.db(), d1.incident.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.route, "api");
    }
}
