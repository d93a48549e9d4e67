//! Read-only views across incidents: what summaries, App Home and `/incident list` show
//! beside the incidents themselves.

use std::collections::HashMap;

use sqlx::Row;

use super::escalation::{awaiting_aws_from, AWS_LAST_REPLIED, FIRST_UNANSWERED};
use super::{bad, Db, StoreResult};
use crate::domain::support::CaseGlance;
use crate::domain::IncidentId;

/// The latest opened AWS Support case of each open incident that has one.
pub async fn case_glances(db: Db<'_>) -> StoreResult<HashMap<IncidentId, CaseGlance>> {
    let sql = format!(
        "SELECT c.incident_id, COALESCE(c.display_id, c.case_id), c.severity,
                CASE WHEN c.resolved_at IS NULL THEN 0 ELSE 1 END,
                COALESCE(c.opened_at, c.requested_at), {AWS_LAST_REPLIED}, {FIRST_UNANSWERED}
         FROM support_cases c JOIN incidents i ON i.id = c.incident_id
         WHERE i.status != 'resolved' AND c.case_id IS NOT NULL
           AND c.id = (SELECT MAX(id) FROM support_cases
                       WHERE incident_id = c.incident_id AND case_id IS NOT NULL)"
    );
    let mut c = db.conn().await?;
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| {
            let severity: String = r.try_get(2)?;
            let glance = CaseGlance {
                display_id: r.try_get(1)?,
                severity: severity
                    .parse()
                    .map_err(|e: String| bad("support case severity", e))?,
                resolved: r.try_get::<i64, _>(3)? != 0,
                awaiting_aws_since: awaiting_aws_from(r, 4)?,
            };
            Ok((IncidentId(r.try_get(0)?), glance))
        })
        .collect()
}
