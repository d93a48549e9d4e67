//! Incident roles besides the lead (`/incident role comms @bob`): the role names
//! (`[incident] roles`), who holds which in one incident, and what handing one over
//! changes. The lead stays on the incident itself (`Incident::lead`); these are the others.
//!
//! Pure: the service loads the current holders, asks [`assign`], and writes the result.

use chrono::{DateTime, Utc};

use super::incident::{ChangeDetail, DomainError, Incident};
use super::timeline::UserId;

/// `[incident] roles` when the config names none.
pub const DEFAULT_ROLES: &[&str] = &["comms", "scribe", "ops", "aws-liaison"];

/// Who holds which role in one incident (one person per role; a person may hold several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// `(role, holder)`, in the order of `[incident] roles` when built by [`Roles::ordered`].
    pub held: Vec<(String, UserId)>,
    /// Roles the incident's type asks to fill (`[[incident.types]] roles`), held or not;
    /// the header shows those nobody holds as unfilled.
    pub to_fill: Vec<String>,
}

impl Roles {
    /// The holders, ordered as the roles are configured (unknown names, from an older
    /// config, last and by name).
    pub fn ordered(mut held: Vec<(String, UserId)>, configured: &[String]) -> Roles {
        let rank = |r: &str| {
            configured
                .iter()
                .position(|c| c == r)
                .unwrap_or(configured.len())
        };
        held.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        Roles {
            held,
            to_fill: Vec::new(),
        }
    }

    /// The roles of [`Roles::to_fill`] nobody holds yet, in order.
    pub fn unfilled(&self) -> Vec<&str> {
        super::incident_type::unfilled(&self.to_fill, &self.held)
    }

    pub fn holder(&self, role: &str) -> Option<&UserId> {
        self.held.iter().find(|(r, _)| r == role).map(|(_, u)| u)
    }

    /// The roles `user` holds, in order.
    pub fn of(&self, user: &UserId) -> Vec<&str> {
        self.held
            .iter()
            .filter(|(_, u)| u == user)
            .map(|(r, _)| r.as_str())
            .collect()
    }

    /// Nobody holds a role and none is waiting to be filled.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.to_fill.is_empty()
    }
}

/// A role handed over: what to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// Plain one-line timeline text: `role comms set to U1`, `role comms U1 → U2`.
    pub summary: String,
    pub detail: ChangeDetail,
    pub at: DateTime<Utc>,
}

/// Give `role` to `to`. Refused when the role is not configured (the message lists the
/// ones that are), when the incident is resolved, and when `to` already holds it.
pub fn assign(
    incident: &Incident,
    roles: &Roles,
    configured: &[String],
    role: &str,
    to: &UserId,
    now: DateTime<Utc>,
) -> Result<Assigned, DomainError> {
    if !configured.iter().any(|c| c == role) {
        return Err(DomainError::Invalid(format!(
            "there is no role {role:?} here; the roles are {} (and the lead: /incident lead)",
            configured.join(", ")
        )));
    }
    if !incident.is_open() {
        return Err(DomainError::Closed(format!(
            "incident {} is resolved, so you cannot hand out roles; reopen it with /incident status investigating",
            incident.id
        )));
    }
    let from = roles.holder(role).cloned();
    let summary = match &from {
        Some(current) if current == to => {
            return Err(DomainError::NoChange(format!(
                "{to} is already {role} of incident {}",
                incident.id
            )));
        }
        Some(current) => format!("role {role} {current} → {to}"),
        None => format!("role {role} set to {to}"),
    };
    Ok(Assigned {
        summary,
        detail: ChangeDetail::Role {
            role: role.to_string(),
            from,
            to: to.clone(),
        },
        at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Severity};
    use chrono::TimeZone;

    fn user(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn configured() -> Vec<String> {
        DEFAULT_ROLES.iter().map(|s| s.to_string()).collect()
    }

    fn incident() -> Incident {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        Incident::declare(IncidentId(4), "x".into(), Severity::Sev2, user("U1"), t0)
    }

    #[test]
    fn assigning_a_free_role_then_handing_it_over() {
        let now = incident().opened_at;
        let a = assign(
            &incident(),
            &Roles::default(),
            &configured(),
            "comms",
            &user("U2"),
            now,
        )
        .unwrap();
        assert_eq!(a.summary, "role comms set to U2");
        assert_eq!(
            a.detail,
            ChangeDetail::Role {
                role: "comms".into(),
                from: None,
                to: user("U2")
            }
        );
        let held = Roles::ordered(vec![("comms".into(), user("U2"))], &configured());
        let b = assign(&incident(), &held, &configured(), "comms", &user("U3"), now).unwrap();
        assert_eq!(b.summary, "role comms U2 → U3");
        let again = assign(&incident(), &held, &configured(), "comms", &user("U2"), now);
        assert!(matches!(again, Err(DomainError::NoChange(m)) if m.contains("already comms")));
    }

    #[test]
    fn unknown_roles_and_resolved_incidents_are_refused() {
        let now = incident().opened_at;
        let err = assign(
            &incident(),
            &Roles::default(),
            &configured(),
            "chef",
            &user("U2"),
            now,
        )
        .unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid(m) if m.contains("comms, scribe, ops, aws-liaison")),
            "{err}"
        );
        let mut resolved = incident();
        resolved.status = crate::domain::Status::Resolved;
        let err = assign(
            &resolved,
            &Roles::default(),
            &configured(),
            "ops",
            &user("U2"),
            now,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Closed(_)));
    }

    #[test]
    fn roles_are_ordered_as_configured_and_listed_per_person() {
        let roles = Roles::ordered(
            vec![
                ("aws-liaison".into(), user("U2")),
                ("old".into(), user("U3")),
                ("comms".into(), user("U2")),
            ],
            &configured(),
        );
        let names: Vec<&str> = roles.held.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(names, ["comms", "aws-liaison", "old"]);
        assert_eq!(roles.of(&user("U2")), ["comms", "aws-liaison"]);
        assert_eq!(roles.holder("old"), Some(&user("U3")));
    }
}
