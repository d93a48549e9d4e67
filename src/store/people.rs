//! People: the display-name cache (`user_names`, filled from Slack's `users.info` by
//! `service::people`), the incident roles besides the lead (`incident_roles`) and who was
//! sent the catch-up on joining an incident channel (`catchups_sent`).
//!
//! User ids stay the key everywhere; a name is only how to show one. No token or other
//! secret is ever stored here: only the id, the name Slack gave and when it was asked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, parse_time, Db, StoreResult, Tx};
use crate::domain::names::Names;
use crate::domain::{IncidentId, UserId};

/// One cached answer of `users.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedName {
    /// `None` when Slack did not know the user (shown as the id).
    pub name: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

/// The cached names of `users` (those never asked are absent).
pub async fn names(db: Db<'_>, users: &[String]) -> StoreResult<HashMap<String, CachedName>> {
    let mut out = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    let mut c = db.conn().await?;
    // One query per chunk of ids; a war room has tens of people, not thousands.
    for chunk in users.chunks(200) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT user_id, name, fetched_at FROM user_names WHERE user_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for u in chunk {
            q = q.bind(u.as_str());
        }
        for row in q.fetch_all(&mut *c).await? {
            let user: String = row.try_get("user_id")?;
            out.insert(
                user,
                CachedName {
                    name: row.try_get("name")?,
                    fetched_at: parse_time(&row.try_get::<String, _>("fetched_at")?)?,
                },
            );
        }
    }
    Ok(out)
}

/// The cached names of `users` as the renderers take them (unknown ones left out: shown
/// by id). What the operator CLI shows: the names the running bot learned.
pub async fn known_names(db: Db<'_>, users: &[String]) -> StoreResult<Names> {
    let cached = names(db, users).await?;
    Ok(Names::new(
        cached
            .into_iter()
            .filter_map(|(user, c)| c.name.map(|n| (user, n)))
            .collect(),
    ))
}

/// Remember what Slack said about `user` (`None`: not known to Slack).
pub async fn save_name(
    tx: &mut Tx,
    user: &str,
    name: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_names (user_id, name, fetched_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, fetched_at = excluded.fetched_at",
    )
    .bind(user)
    .bind(name)
    .bind(fmt_time(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Who holds which role in the incident (unordered; `domain::roles::Roles::ordered`).
pub async fn roles_of(db: Db<'_>, incident: IncidentId) -> StoreResult<Vec<(String, UserId)>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT role, user_id FROM incident_roles WHERE incident_id = $1 ORDER BY role",
    )
    .bind(incident.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let user: String = row.try_get("user_id")?;
            Ok((
                row.try_get("role")?,
                UserId::parse(&user).map_err(|_| super::bad("role holder", &user))?,
            ))
        })
        .collect()
}

/// Give `role` to `user` (replacing its holder), in the unit of work that records it.
pub async fn set_role(
    tx: &mut Tx,
    incident: IncidentId,
    role: &str,
    user: &UserId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_roles (incident_id, role, user_id, assigned_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (incident_id, role) DO UPDATE SET user_id = excluded.user_id,
                                                      assigned_at = excluded.assigned_at",
    )
    .bind(incident.0)
    .bind(role)
    .bind(user.as_str())
    .bind(fmt_time(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether `user` was already sent the catch-up for `incident`.
pub async fn catchup_sent(db: Db<'_>, incident: IncidentId, user: &UserId) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT 1 FROM catchups_sent WHERE incident_id = $1 AND user_id = $2")
        .bind(incident.0)
        .bind(user.as_str())
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

/// Note that `user` was sent the catch-up for `incident`; `false` when they already were.
pub async fn mark_catchup_sent(
    tx: &mut Tx,
    incident: IncidentId,
    user: &UserId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO catchups_sent (incident_id, user_id, sent_at) VALUES ($1, $2, $3)
         ON CONFLICT (incident_id, user_id) DO NOTHING",
    )
    .bind(incident.0)
    .bind(user.as_str())
    .bind(fmt_time(at))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn names_roles_and_catchups_are_kept() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        let alice = UserId::parse("U0ALICE").unwrap();
        let bob = UserId::parse("U0BOB").unwrap();
        let mut tx = store.begin().await.unwrap();
        let new = NewIncident {
            private: false,
            source_key: "cmd:1".into(),
            title: "x".into(),
            severity: Severity::Sev2,
            declared_by: alice.clone(),
            opened_at: now,
            channel_name: "inc-x".into(),
        };
        let (record, _) = incidents::create(&mut tx, &new, now).await.unwrap();
        let id = record.incident.id;
        save_name(&mut tx, "U0BOB", Some("Bob Smith"), now)
            .await
            .unwrap();
        save_name(&mut tx, "U0GONE", None, now).await.unwrap();
        save_name(&mut tx, "U0BOB", Some("Bobby"), now)
            .await
            .unwrap();
        set_role(&mut tx, id, "comms", &alice, now).await.unwrap();
        set_role(&mut tx, id, "comms", &bob, now).await.unwrap();
        set_role(&mut tx, id, "ops", &alice, now).await.unwrap();
        assert!(mark_catchup_sent(&mut tx, id, &bob, now).await.unwrap());
        assert!(!mark_catchup_sent(&mut tx, id, &bob, now).await.unwrap());
        tx.commit().await.unwrap();
        assert!(catchup_sent(store.db(), id, &bob).await.unwrap());
        assert!(!catchup_sent(store.db(), id, &alice).await.unwrap());

        let got = names(
            store.db(),
            &["U0BOB".into(), "U0GONE".into(), "U0NEW".into()],
        )
        .await
        .unwrap();
        assert_eq!(got["U0BOB"].name.as_deref(), Some("Bobby"));
        assert_eq!(got["U0GONE"].name, None);
        assert!(!got.contains_key("U0NEW"));
        assert_eq!(
            roles_of(store.db(), id).await.unwrap(),
            [("comms".to_string(), bob), ("ops".to_string(), alice)]
        );
    }
}
