//! What the managers' report is computed from ([`ReportFacts`]), read for a period on one
//! connection, a few statements for every incident at once; and the record of postmortem
//! drafts posted (`postmortem_drafts`), which the report asks about.
//!
//! Where each fact lives: the incident row (severity, opened, resolved); for an incident
//! an alarm opened, when warroom routed that alarm (`alarm_transitions.decided_at`); the
//! first ALARM
//! transition linked to it (`alarm_transitions`: CloudWatch's time, the route, the alarm's
//! namespace for the AWS service; the war room's `alarm_incidents.health_service` first);
//! the first `message` timeline entry (people's messages only: the bot's own are never
//! recorded); the first `status_changed`/`resolved` entry whose change data moves to
//! monitoring or resolved; `support_cases` opened at AWS and AWS's first reply in
//! `support_communications`; `action_items`; `postmortem_drafts`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{bad, fmt_time, parse_opt_time, parse_time, Db, StoreResult, Tx};
use crate::domain::alarm::Alarm;
use crate::domain::health_service::health_service;
use crate::domain::incident::ChangeDetail;
use crate::domain::report::{CaseFacts, IncidentFacts, OpenActionItem, Period, ReportFacts};
use crate::domain::{IncidentId, Severity, Status, UserId};

/// The real incidents opened in the period (`$1` since, `$2` until), as a sub-query.
const IN_PERIOD: &str =
    "(SELECT id FROM incidents WHERE id > 0 AND opened_at >= $1 AND opened_at < $2)";

/// Everything the report of `period` is computed from.
pub async fn facts(db: Db<'_>, period: Period) -> StoreResult<ReportFacts> {
    let mut c = db.conn().await?;
    let (since, until) = (fmt_time(period.since), fmt_time(period.until));

    let rows = sqlx::query(
        "SELECT id, severity, opened_at, resolved_at FROM incidents
         WHERE id > 0 AND opened_at >= $1 AND opened_at < $2 ORDER BY id",
    )
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    let mut incidents: BTreeMap<i64, IncidentFacts> = BTreeMap::new();
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let level: i64 = r.try_get(1)?;
        let opened_at = parse_time(&r.try_get::<String, _>(2)?)?;
        incidents.insert(
            id,
            IncidentFacts {
                id: IncidentId(id),
                severity: Severity::from_level(level).ok_or_else(|| bad("severity", level))?,
                opened_at,
                declared_at: opened_at,
                route: None,
                aws_service: None,
                first_alarm_at: None,
                first_response_at: None,
                cases: Vec::new(),
                mitigated_at: None,
                resolved_at: parse_opt_time(r.try_get(3)?)?,
                postmortem_drafted: false,
            },
        );
    }

    // For incidents an alarm opened: when warroom routed it, the route, the war room's
    // AWS service.
    let rows = sqlx::query(&format!(
        "SELECT a.incident_id, a.route, a.health_service, t.decided_at
         FROM alarm_incidents a JOIN alarm_transitions t ON t.id = a.transition_id
         WHERE a.incident_id IN {IN_PERIOD}"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        if let Some(i) = incidents.get_mut(&r.try_get::<i64, _>(0)?) {
            i.route = r.try_get(1)?;
            i.aws_service = r.try_get(2)?;
            if let Some(decided) = parse_opt_time(r.try_get(3)?)? {
                i.declared_at = decided;
            }
        }
    }

    // The first ALARM transition of each: detection time, and the route and service of
    // incidents declared by hand that alarms joined.
    let rows = sqlx::query(&format!(
        "SELECT incident_id, state_updated_at, route, alarm FROM alarm_transitions
         WHERE state = 'ALARM' AND incident_id IN {IN_PERIOD}
         ORDER BY incident_id, state_updated_at, id"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        let Some(i) = incidents.get_mut(&r.try_get::<i64, _>(0)?) else {
            continue;
        };
        if i.first_alarm_at.is_some() {
            continue;
        }
        i.first_alarm_at = Some(parse_time(&r.try_get::<String, _>(1)?)?);
        if i.route.is_none() {
            i.route = r.try_get(2)?;
        }
        if i.aws_service.is_none() {
            let alarm: Alarm =
                serde_json::from_str(&r.try_get::<String, _>(3)?).map_err(|e| bad("alarm", e))?;
            i.aws_service = alarm.namespace.as_deref().and_then(service_of);
        }
    }

    // The first message a person wrote in the channel.
    let rows = sqlx::query(&format!(
        "SELECT incident_id, MIN(occurred_at) FROM timeline
         WHERE kind = 'message' AND incident_id IN {IN_PERIOD}
         GROUP BY incident_id"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        if let Some(i) = incidents.get_mut(&r.try_get::<i64, _>(0)?) {
            i.first_response_at = parse_opt_time(r.try_get(1)?)?;
        }
    }

    // The first move to monitoring or resolved, from the change data of status entries.
    let rows = sqlx::query(&format!(
        "SELECT incident_id, occurred_at, data FROM timeline
         WHERE kind IN ('status_changed', 'resolved') AND data IS NOT NULL
           AND incident_id IN {IN_PERIOD}
         ORDER BY incident_id, occurred_at, id"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        let Some(i) = incidents.get_mut(&r.try_get::<i64, _>(0)?) else {
            continue;
        };
        if i.mitigated_at.is_some() {
            continue;
        }
        let data: String = r.try_get(2)?;
        let detail: ChangeDetail =
            serde_json::from_str(&data).map_err(|e| bad("change data", e))?;
        if let ChangeDetail::Status {
            to: Status::Monitoring | Status::Resolved,
            ..
        } = detail
        {
            i.mitigated_at = Some(parse_time(&r.try_get::<String, _>(1)?)?);
        }
    }

    // Cases AWS opened, with AWS's first reply.
    let rows = sqlx::query(&format!(
        "SELECT c.incident_id, c.severity, c.opened_at,
                (SELECT MIN(m.time_created) FROM support_communications m
                 WHERE m.case_row = c.id AND m.from_aws = 1)
         FROM support_cases c
         WHERE c.opened_at IS NOT NULL AND c.incident_id IN {IN_PERIOD}
         ORDER BY c.incident_id, c.opened_at, c.id"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        if let Some(i) = incidents.get_mut(&r.try_get::<i64, _>(0)?) {
            let severity: String = r.try_get(1)?;
            i.cases.push(CaseFacts {
                severity: severity
                    .parse()
                    .map_err(|_| bad("case severity", &severity))?,
                opened_at: parse_time(&r.try_get::<String, _>(2)?)?,
                first_aws_reply_at: parse_opt_time(r.try_get(3)?)?,
            });
        }
    }

    let rows = sqlx::query(&format!(
        "SELECT incident_id FROM postmortem_drafts WHERE incident_id IN {IN_PERIOD}"
    ))
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    let drafted: HashSet<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for (id, i) in incidents.iter_mut() {
        i.postmortem_drafted = drafted.contains(id);
    }

    // Action items still open at the end of the period, whichever incident they belong to.
    let rows = sqlx::query(
        "SELECT incident_id, number, owner, created_at FROM action_items
         WHERE incident_id > 0 AND created_at < $1 AND (done_at IS NULL OR done_at >= $2)
         ORDER BY created_at, id",
    )
    .bind(until.as_str())
    .bind(until.as_str())
    .fetch_all(&mut *c)
    .await?;
    let open_action_items = rows
        .iter()
        .map(|r| {
            let owner: Option<String> = r.try_get(2)?;
            Ok(OpenActionItem {
                incident: IncidentId(r.try_get(0)?),
                number: u32::try_from(r.try_get::<i64, _>(1)?)
                    .map_err(|e| bad("action item number", e))?,
                owner: owner
                    .map(|o| UserId::parse(&o).map_err(|e| bad("action item owner", e)))
                    .transpose()?,
                created_at: parse_time(&r.try_get::<String, _>(3)?)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;

    let drills: i64 = sqlx::query(
        "SELECT COUNT(*) FROM incidents WHERE id < 0 AND opened_at >= $1 AND opened_at < $2",
    )
    .bind(since.as_str())
    .bind(until.as_str())
    .fetch_one(&mut *c)
    .await?
    .try_get(0)?;

    Ok(ReportFacts {
        period,
        incidents: incidents.into_values().collect(),
        open_action_items,
        drills: u64::try_from(drills).unwrap_or(0),
    })
}

/// The AWS service a CloudWatch namespace belongs to: the AWS Health code when Health
/// knows it (`AWS/ApplicationELB` → `ELASTICLOADBALANCING`), else the namespace's name
/// (`AWS/SQS` → `SQS`); custom namespaces are no AWS service.
fn service_of(namespace: &str) -> Option<String> {
    health_service(namespace)
        .map(str::to_string)
        .or_else(|| namespace.strip_prefix("AWS/").map(str::to_ascii_uppercase))
}

/// A postmortem draft of `incident` reached Slack at `at`, asked for by `by`.
pub async fn record_draft(
    tx: &mut Tx,
    incident: IncidentId,
    by: &UserId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO postmortem_drafts (incident_id, first_drafted_at, last_drafted_at,
                                       drafted_by, drafts)
         VALUES ($1, $2, $3, $4, 1)
         ON CONFLICT (incident_id) DO UPDATE SET
             last_drafted_at = excluded.last_drafted_at,
             drafted_by = excluded.drafted_by,
             drafts = postmortem_drafts.drafts + 1",
    )
    .bind(incident.0)
    .bind(fmt_time(at))
    .bind(fmt_time(at))
    .bind(by.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntryKind;
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::{actions, timeline, Store};
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
    }

    async fn incident(store: &Store, key: &str, at: DateTime<Utc>) -> IncidentId {
        let mut tx = store.begin().await.unwrap();
        let (r, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
                source_key: key.into(),
                title: "t".into(),
                severity: Severity::Sev2,
                declared_by: UserId::parse("U0ALICE").unwrap(),
                opened_at: at,
                channel_name: format!("inc-{key}"),
            },
            at,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        r.incident.id
    }

    /// Messages, a status move to monitoring, action items and drafts are read back for
    /// the incidents of the period only; a draft recorded twice is one row.
    async fn facts_of_a_period(store: Store) {
        let before = incident(&store, "before", t(8, 0)).await;
        let id = incident(&store, "in", t(10, 0)).await;
        let mut tx = store.begin().await.unwrap();
        for (key, kind, at, data) in [
            ("m1", EntryKind::Message, t(10, 3), None),
            ("m2", EntryKind::Message, t(10, 7), None),
            (
                "s1",
                EntryKind::StatusChanged,
                t(10, 20),
                Some(r#"{"change":"status","from":"Investigating","to":"Identified","note":null}"#),
            ),
            (
                "s2",
                EntryKind::StatusChanged,
                t(10, 40),
                Some(r#"{"change":"status","from":"Identified","to":"Monitoring","note":null}"#),
            ),
        ] {
            let entry = timeline::NewEntry {
                incident_id: id,
                dedupe_key: key.into(),
                kind,
                occurred_at: at,
                actor: Some("U0BOB".into()),
                text: "x".into(),
                slack_ts: None,
                thread_ts: None,
                key_event: false,
            };
            let data: Option<serde_json::Value> = data.map(|d| serde_json::from_str(d).unwrap());
            timeline::insert_with_data(&mut tx, &entry, data.as_ref(), at)
                .await
                .unwrap();
        }
        let bob = UserId::parse("U0BOB").unwrap();
        for (n, key) in [(1, "a1"), (2, "a2")] {
            let new = actions::NewAction {
                incident_id: id,
                text: &format!("item {n}"),
                owner: Some(&bob),
                by: &bob,
                at: t(10, 30),
                source_key: key,
            };
            actions::add(&mut tx, &new, t(10, 30)).await.unwrap();
        }
        let closing = actions::Closing {
            incident_id: id,
            number: 2,
            by: &bob,
            at: t(11, 0),
            source_key: "close2",
        };
        actions::close(&mut tx, &closing, t(11, 0)).await.unwrap();
        record_draft(&mut tx, id, &bob, t(12, 0)).await.unwrap();
        record_draft(&mut tx, id, &bob, t(12, 5)).await.unwrap();
        record_draft(&mut tx, before, &bob, t(12, 5)).await.unwrap();
        tx.commit().await.unwrap();

        let period = Period {
            since: t(9, 0),
            until: t(13, 0),
        };
        let f = facts(store.db(), period).await.unwrap();
        assert_eq!(f.incidents.len(), 1);
        let i = &f.incidents[0];
        assert_eq!(i.id, id);
        assert_eq!(i.first_response_at, Some(t(10, 3)));
        assert_eq!(i.mitigated_at, Some(t(10, 40)));
        assert!(i.postmortem_drafted);
        assert_eq!((i.route.as_deref(), i.first_alarm_at), (None, None));
        assert!(i.cases.is_empty());
        // Item 1 is open; item 2 was done before the end of the period.
        let open: Vec<u32> = f.open_action_items.iter().map(|a| a.number).collect();
        assert_eq!(open, [1]);
        assert_eq!(f.drills, 0);
        // Seen from before item 2 was done, both are open.
        let earlier = Period {
            since: t(9, 0),
            until: t(10, 45),
        };
        let f = facts(store.db(), earlier).await.unwrap();
        assert_eq!(f.open_action_items.len(), 2);
        assert_eq!(f.incidents[0].mitigated_at, Some(t(10, 40)));
    }

    on_both_backends!(facts_of_a_period);

    #[test]
    fn namespaces_name_their_service() {
        assert_eq!(
            service_of("AWS/ApplicationELB").as_deref(),
            Some("ELASTICLOADBALANCING")
        );
        assert_eq!(service_of("AWS/SQS").as_deref(), Some("SQS"));
        assert_eq!(service_of("Custom/Checkout"), None);
    }
}
