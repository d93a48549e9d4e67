//! The graph posted for an alarm (GetMetricWidgetImage), kept for the postmortem: the PNG
//! itself, so the HTML page can embed it and stay one file, and the Slack file it was shared
//! as, so the Markdown draft can link it; or why there is none.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, parse_time, Db, StoreResult, Tx};
use crate::domain::IncidentId;

/// A graph warroom posted, or tried to post, for an alarm of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub alarm_name: String,
    /// The file's title in Slack: `checkout-alb-5xx around the breach`.
    pub title: String,
    /// The image AWS drew (PNG), when it drew one.
    pub png: Option<Vec<u8>>,
    /// The Slack file it was shared as, when Slack took it.
    pub slack_file_id: Option<String>,
    /// The file's page in Slack, when Slack said it.
    pub permalink: Option<String>,
    /// Why there is no graph, or why it is not in Slack: AWS's error, Slack's refusal, an
    /// alarm with no single metric to draw.
    pub unavailable: Option<String>,
    pub posted_at: DateTime<Utc>,
}

/// Keep what was posted for `graph.alarm_name` in `incident`. Posting again (a retry after a
/// crash) replaces it.
pub async fn keep(tx: &mut Tx, incident: IncidentId, graph: &Graph) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alarm_graphs (incident_id, alarm_name, title, png, slack_file_id,
                                   permalink, unavailable, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (incident_id, alarm_name) DO UPDATE SET
             title = excluded.title, png = excluded.png,
             slack_file_id = excluded.slack_file_id, permalink = excluded.permalink,
             unavailable = excluded.unavailable, posted_at = excluded.posted_at",
    )
    .bind(incident.0)
    .bind(&graph.alarm_name)
    .bind(&graph.title)
    .bind(graph.png.clone())
    .bind(graph.slack_file_id.as_deref())
    .bind(graph.permalink.as_deref())
    .bind(graph.unavailable.as_deref())
    .bind(fmt_time(graph.posted_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The graphs kept for `incident`, in the order they were posted.
pub async fn of_incident(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<Graph>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT alarm_name, title, png, slack_file_id, permalink, unavailable, posted_at
         FROM alarm_graphs WHERE incident_id = $1 ORDER BY posted_at, alarm_name",
    )
    .bind(incident.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Graph {
                alarm_name: r.try_get(0)?,
                title: r.try_get(1)?,
                png: r.try_get(2)?,
                slack_file_id: r.try_get(3)?,
                permalink: r.try_get(4)?,
                unavailable: r.try_get(5)?,
                posted_at: parse_time(&r.try_get::<String, _>(6)?)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    async fn a_graph_is_kept_with_its_image_and_replaced_when_posted_again(store: Store) {
        let t0 = parse_time("2026-11-20T13:00:00.000Z").unwrap();
        let mut tx = store.begin().await.unwrap();
        let (record, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
                source_key: "alarm:x".into(),
                channel_name: "inc-x".into(),
                title: "x".into(),
                severity: Severity::Sev2,
                declared_by: UserId::parse("U0WARBOT").unwrap(),
                opened_at: t0,
            },
            t0,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let id = record.incident.id;
        assert!(of_incident(store.db(), id).await.unwrap().is_empty());
        let failed = Graph {
            alarm_name: "checkout-5xx".into(),
            title: "checkout-5xx around the breach".into(),
            png: Some(vec![0x89, b'P', b'N', b'G', 0, 1, 2]),
            slack_file_id: None,
            permalink: None,
            unavailable: Some("Slack refused the upload (file_too_large)".into()),
            posted_at: t0,
        };
        let mut tx = store.begin().await.unwrap();
        keep(&mut tx, id, &failed).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            of_incident(store.db(), id).await.unwrap(),
            std::slice::from_ref(&failed)
        );
        let shared = Graph {
            slack_file_id: Some("F0GRAPH".into()),
            permalink: Some("https://x.slack.com/files/U0WARBOT/F0GRAPH/c.png".into()),
            unavailable: None,
            posted_at: t0 + chrono::Duration::minutes(1),
            ..failed
        };
        let mut tx = store.begin().await.unwrap();
        keep(&mut tx, id, &shared).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(of_incident(store.db(), id).await.unwrap(), [shared]);
    }

    on_both_backends!(a_graph_is_kept_with_its_image_and_replaced_when_posted_again);
}
