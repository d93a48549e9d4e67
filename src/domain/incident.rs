//! The incident aggregate and the policies that change it.

use chrono::{DateTime, Utc};

pub use super::ids::IncidentId;
use super::ids::{ChannelId, Ts, UserId};
use super::severity::Severity;
use super::status::Status;
use super::timeline::EntryKind;

/// An incident as the domain sees it (no channel ids, no message timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    /// Who runs the response; `None` until someone takes it (the declarer by default).
    pub lead: Option<UserId>,
    pub declared_by: UserId,
    pub opened_at: DateTime<Utc>,
    /// Set while resolved; cleared on reopen.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An incident plus where it lives in Slack: the read model the renderers, the reports and
/// the services share (the store builds it, nothing else does IO with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub incident: Incident,
    /// The channel name chosen (or being created).
    pub channel_name: String,
    /// Set once conversations.create succeeded.
    pub channel_id: Option<ChannelId>,
    /// The pinned header message, kept current with chat.update.
    pub header_ts: Option<Ts>,
    pub header_pinned: bool,
    pub members_invited: bool,
    /// A private incident (`/incident declare --private`, or a private incident type): its
    /// channel is private, and every surface outside it shows only what
    /// [`crate::domain::privacy`] lets that audience see.
    pub private: bool,
    /// The `[[incident.types]]` name it was opened with, if any.
    pub incident_type: Option<String>,
}

/// A requested change to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Status { to: Status, note: Option<String> },
    Severity(Severity),
    Lead(UserId),
    Resolve { note: Option<String> },
}

/// The result of applying a change: the new state and what to record about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub incident: Incident,
    pub entry: EntryKind,
    /// Plain, unescaped one-line description for the timeline, e.g.
    /// `status investigating → identified: rolled back the deploy`,
    /// `severity SEV3 → SEV1`, `lead U123 → U456` (or `lead set to U456`), `resolved: note`,
    /// `reopened (monitoring)`.
    pub summary: String,
    /// The same change as data, stored with the timeline entry (severity history and
    /// time-to-mitigate in the postmortem come from it).
    pub detail: ChangeDetail,
}

/// What a change did, as data. Serialised as JSON with a `change` tag
/// (`{"change":"severity","from":"Sev3","to":"Sev1"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeDetail {
    /// Any status move: resolve (`to: Resolved`) and reopen (`from: Resolved`) included.
    Status {
        from: Status,
        to: Status,
        note: Option<String>,
    },
    Severity {
        from: Severity,
        to: Severity,
    },
    Lead {
        from: Option<UserId>,
        to: UserId,
    },
    /// One of the `[incident] roles` besides the lead (`domain::roles`).
    Role {
        role: String,
        from: Option<UserId>,
        to: UserId,
    },
}

/// A change the current state does not allow. Shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The change would not change anything (`severity is already SEV2`).
    #[error("{0}")]
    NoChange(String),
    /// The incident is resolved and the change needs an open incident
    /// (`incident #4 is resolved; reopen it with /incident status investigating`).
    #[error("{0}")]
    Closed(String),
    /// The request names something that does not exist here (a role not configured).
    #[error("{0}")]
    Invalid(String),
}

impl Incident {
    /// A newly declared incident: status investigating, the declarer as lead.
    pub fn declare(
        id: IncidentId,
        title: String,
        severity: Severity,
        declared_by: UserId,
        now: DateTime<Utc>,
    ) -> Incident {
        Incident {
            id,
            title,
            severity,
            status: Status::Investigating,
            lead: Some(declared_by.clone()),
            declared_by,
            opened_at: now,
            resolved_at: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    /// Apply a change at `now`. Rules: a change to the current value is `NoChange`;
    /// severity and lead changes on a resolved incident are `Closed`; `Resolve` (or
    /// `Status { to: Resolved }`) sets `resolved_at = now` and records `Resolved`; moving a
    /// resolved incident to an open status reopens it (`Reopened`, `resolved_at = None`).
    pub fn apply(&self, change: &Change, now: DateTime<Utc>) -> Result<Applied, DomainError> {
        match change {
            Change::Status {
                to: Status::Resolved,
                note,
            }
            | Change::Resolve { note } => self.resolve(note.as_deref(), now),
            Change::Status { to, note } => self.change_status(*to, note.as_deref()),
            Change::Severity(to) => {
                self.ensure_open("change its severity")?;
                if *to == self.severity {
                    return Err(DomainError::NoChange(format!("severity is already {to}")));
                }
                Ok(Applied {
                    incident: Incident {
                        severity: *to,
                        ..self.clone()
                    },
                    entry: EntryKind::SeverityChanged,
                    summary: format!("severity {} → {to}", self.severity),
                    detail: ChangeDetail::Severity {
                        from: self.severity,
                        to: *to,
                    },
                })
            }
            Change::Lead(to) => {
                self.ensure_open("hand it to a new lead")?;
                let summary = match &self.lead {
                    Some(current) if current == to => {
                        return Err(DomainError::NoChange(format!(
                            "{to} is already the lead of incident {}",
                            self.id
                        )));
                    }
                    Some(current) => format!("lead {current} → {to}"),
                    None => format!("lead set to {to}"),
                };
                Ok(Applied {
                    incident: Incident {
                        lead: Some(to.clone()),
                        ..self.clone()
                    },
                    entry: EntryKind::LeadChanged,
                    summary,
                    detail: ChangeDetail::Lead {
                        from: self.lead.clone(),
                        to: to.clone(),
                    },
                })
            }
        }
    }

    /// `Closed` when the incident is resolved; `action` completes "so you cannot …".
    fn ensure_open(&self, action: &str) -> Result<(), DomainError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(DomainError::Closed(format!(
                "incident {} is resolved, so you cannot {action}; reopen it with /incident status investigating",
                self.id
            )))
        }
    }

    fn resolve(&self, note: Option<&str>, now: DateTime<Utc>) -> Result<Applied, DomainError> {
        if !self.is_open() {
            return Err(DomainError::NoChange(format!(
                "incident {} is already resolved; reopen it with /incident status investigating",
                self.id
            )));
        }
        Ok(Applied {
            incident: Incident {
                status: Status::Resolved,
                resolved_at: Some(now),
                ..self.clone()
            },
            entry: EntryKind::Resolved,
            summary: with_note("resolved".to_owned(), note),
            detail: status_detail(self.status, Status::Resolved, note),
        })
    }

    /// A move to an open status `to`: a plain status change, or a reopen when resolved.
    fn change_status(&self, to: Status, note: Option<&str>) -> Result<Applied, DomainError> {
        if to == self.status {
            return Err(DomainError::NoChange(format!("status is already {to}")));
        }
        let incident = Incident {
            status: to,
            resolved_at: None,
            ..self.clone()
        };
        let (entry, summary) = if self.is_open() {
            (
                EntryKind::StatusChanged,
                format!("status {} → {to}", self.status),
            )
        } else {
            (EntryKind::Reopened, format!("reopened ({to})"))
        };
        Ok(Applied {
            incident,
            entry,
            summary: with_note(summary, note),
            detail: status_detail(self.status, to, note),
        })
    }

    /// How long the incident has been (or was) open.
    /// Measured to `resolved_at` when resolved, else to `now`; never negative (a clock
    /// that went backwards gives zero).
    pub fn duration(&self, now: DateTime<Utc>) -> chrono::Duration {
        let end = self.resolved_at.unwrap_or(now);
        end.signed_duration_since(self.opened_at)
            .max(chrono::Duration::zero())
    }
}

fn status_detail(from: Status, to: Status, note: Option<&str>) -> ChangeDetail {
    ChangeDetail::Status {
        from,
        to,
        note: note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    }
}

/// `summary: note` when there is a non-blank note, kept on one line (line breaks in the
/// note become spaces).
fn with_note(summary: String, note: Option<&str>) -> String {
    match note.map(str::trim) {
        Some(note) if !note.is_empty() => {
            let one_line = note.replace("\r\n", " ").replace(['\n', '\r'], " ");
            format!("{summary}: {one_line}")
        }
        _ => summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drills_are_negative_ids_shown_apart() {
        assert!(IncidentId(-3).is_drill());
        assert!(!IncidentId(3).is_drill());
        assert_eq!(IncidentId(-3).to_string(), "drill #3");
        assert_eq!(IncidentId(12).to_string(), "#12");
        for (text, id) in [
            ("12", Some(12)),
            ("#12", Some(12)),
            ("drill-3", Some(-3)),
            ("drill#3", Some(-3)),
            ("-3", Some(-3)),
            ("0", None),
            ("drill-0", None),
            ("drill--3", None),
            ("x", None),
        ] {
            assert_eq!(IncidentId::parse(text), id.map(IncidentId), "{text}");
        }
    }
    use chrono::{TimeDelta, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 13, 0, 0).unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn incident() -> Incident {
        Incident::declare(
            IncidentId(4),
            "DB connection exhaustion".to_owned(),
            Severity::Sev3,
            user("U111"),
            t0(),
        )
    }

    fn resolved() -> Incident {
        incident()
            .apply(&Change::Resolve { note: None }, t0() + TimeDelta::hours(1))
            .unwrap()
            .incident
    }

    fn status(to: Status, note: Option<&str>) -> Change {
        Change::Status {
            to,
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn id_displays_with_hash() {
        assert_eq!(IncidentId(12).to_string(), "#12");
    }

    #[test]
    fn declare_starts_investigating_with_the_declarer_as_lead() {
        let inc = incident();
        assert_eq!(inc.id, IncidentId(4));
        assert_eq!(inc.title, "DB connection exhaustion");
        assert_eq!(inc.severity, Severity::Sev3);
        assert_eq!(inc.status, Status::Investigating);
        assert_eq!(inc.lead, Some(user("U111")));
        assert_eq!(inc.declared_by, user("U111"));
        assert_eq!(inc.opened_at, t0());
        assert_eq!(inc.resolved_at, None);
        assert!(inc.is_open());
    }

    #[test]
    fn status_change_between_open_statuses() {
        let now = t0() + TimeDelta::minutes(10);
        let applied = incident()
            .apply(
                &status(Status::Identified, Some("rolled back the deploy")),
                now,
            )
            .unwrap();
        assert_eq!(applied.entry, EntryKind::StatusChanged);
        assert_eq!(
            applied.summary,
            "status investigating → identified: rolled back the deploy"
        );
        assert_eq!(applied.incident.status, Status::Identified);
        assert_eq!(applied.incident.resolved_at, None);
        assert!(applied.incident.is_open());
        assert_eq!(
            applied.detail,
            ChangeDetail::Status {
                from: Status::Investigating,
                to: Status::Identified,
                note: Some("rolled back the deploy".to_owned()),
            }
        );

        // Any open status may move to any other, backwards included.
        let back = applied
            .incident
            .apply(&status(Status::Investigating, None), now)
            .unwrap();
        assert_eq!(back.summary, "status identified → investigating");
        assert_eq!(back.entry, EntryKind::StatusChanged);
    }

    #[test]
    fn same_status_is_no_change() {
        let err = incident()
            .apply(&status(Status::Investigating, Some("still looking")), t0())
            .unwrap_err();
        assert_eq!(
            err,
            DomainError::NoChange("status is already investigating".to_owned())
        );
        assert_eq!(err.to_string(), "status is already investigating");
    }

    #[test]
    fn resolve_sets_resolved_at_and_records_resolved() {
        let now = t0() + TimeDelta::minutes(85);
        for change in [
            Change::Resolve {
                note: Some("pool size raised".to_owned()),
            },
            status(Status::Resolved, Some("pool size raised")),
        ] {
            let applied = incident().apply(&change, now).unwrap();
            assert_eq!(applied.entry, EntryKind::Resolved);
            assert_eq!(applied.summary, "resolved: pool size raised");
            assert_eq!(applied.incident.status, Status::Resolved);
            assert_eq!(applied.incident.resolved_at, Some(now));
            assert!(!applied.incident.is_open());
            // Everything else is untouched.
            assert_eq!(applied.incident.severity, Severity::Sev3);
            assert_eq!(applied.incident.lead, Some(user("U111")));
        }
        let applied = incident()
            .apply(&Change::Resolve { note: None }, now)
            .unwrap();
        assert_eq!(applied.summary, "resolved");
        let applied = incident()
            .apply(
                &Change::Resolve {
                    note: Some("  ".to_owned()),
                },
                now,
            )
            .unwrap();
        assert_eq!(applied.summary, "resolved");
    }

    #[test]
    fn resolving_a_resolved_incident_is_no_change() {
        for change in [
            Change::Resolve { note: None },
            status(Status::Resolved, None),
        ] {
            let err = resolved().apply(&change, t0()).unwrap_err();
            match err {
                DomainError::NoChange(msg) => {
                    assert!(msg.contains("#4 is already resolved"), "{msg}");
                    assert!(!msg.ends_with('.'));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn open_status_on_a_resolved_incident_reopens() {
        let inc = resolved();
        assert!(inc.resolved_at.is_some());
        let now = t0() + TimeDelta::hours(2);
        let applied = inc.apply(&status(Status::Monitoring, None), now).unwrap();
        assert_eq!(applied.entry, EntryKind::Reopened);
        assert_eq!(applied.summary, "reopened (monitoring)");
        assert_eq!(applied.incident.status, Status::Monitoring);
        assert_eq!(applied.incident.resolved_at, None);
        assert!(applied.incident.is_open());

        let applied = inc
            .apply(&status(Status::Investigating, Some("errors are back")), now)
            .unwrap();
        assert_eq!(applied.summary, "reopened (investigating): errors are back");
        assert_eq!(
            applied.detail,
            ChangeDetail::Status {
                from: Status::Resolved,
                to: Status::Investigating,
                note: Some("errors are back".to_owned()),
            }
        );
    }

    #[test]
    fn change_details_round_trip_as_tagged_json() {
        let resolved = incident()
            .apply(
                &Change::Resolve {
                    note: Some("  ".to_owned()),
                },
                t0(),
            )
            .unwrap();
        assert_eq!(
            resolved.detail,
            ChangeDetail::Status {
                from: Status::Investigating,
                to: Status::Resolved,
                note: None,
            }
        );
        for detail in [
            resolved.detail,
            ChangeDetail::Severity {
                from: Severity::Sev3,
                to: Severity::Sev1,
            },
            ChangeDetail::Lead {
                from: None,
                to: user("U222"),
            },
        ] {
            let json = serde_json::to_value(&detail).unwrap();
            assert!(json["change"].is_string(), "{json}");
            assert_eq!(
                serde_json::from_value::<ChangeDetail>(json).unwrap(),
                detail
            );
        }
    }

    #[test]
    fn severity_change() {
        let applied = incident()
            .apply(&Change::Severity(Severity::Sev1), t0())
            .unwrap();
        assert_eq!(applied.entry, EntryKind::SeverityChanged);
        assert_eq!(applied.summary, "severity SEV3 → SEV1");
        assert_eq!(
            applied.detail,
            ChangeDetail::Severity {
                from: Severity::Sev3,
                to: Severity::Sev1
            }
        );
        assert_eq!(applied.incident.severity, Severity::Sev1);
        assert_eq!(applied.incident.status, Status::Investigating);

        let err = incident()
            .apply(&Change::Severity(Severity::Sev3), t0())
            .unwrap_err();
        assert_eq!(
            err,
            DomainError::NoChange("severity is already SEV3".to_owned())
        );
    }

    #[test]
    fn severity_and_lead_changes_on_a_resolved_incident_are_closed() {
        for change in [
            Change::Severity(Severity::Sev1),
            Change::Severity(Severity::Sev3),
            Change::Lead(user("U222")),
            Change::Lead(user("U111")),
        ] {
            match resolved().apply(&change, t0()).unwrap_err() {
                DomainError::Closed(msg) => {
                    assert!(msg.starts_with("incident #4 is resolved"), "{msg}");
                    assert!(
                        msg.ends_with("reopen it with /incident status investigating"),
                        "{msg}"
                    );
                }
                other => panic!("{change:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn lead_change() {
        let applied = incident().apply(&Change::Lead(user("U222")), t0()).unwrap();
        assert_eq!(applied.entry, EntryKind::LeadChanged);
        assert_eq!(applied.summary, "lead U111 → U222");
        assert_eq!(
            applied.detail,
            ChangeDetail::Lead {
                from: Some(user("U111")),
                to: user("U222")
            }
        );
        assert_eq!(applied.incident.lead, Some(user("U222")));
        assert_eq!(applied.incident.declared_by, user("U111"));

        let mut no_lead = incident();
        no_lead.lead = None;
        let applied = no_lead.apply(&Change::Lead(user("W333")), t0()).unwrap();
        assert_eq!(applied.summary, "lead set to W333");
        assert_eq!(applied.incident.lead, Some(user("W333")));

        let err = incident()
            .apply(&Change::Lead(user("U111")), t0())
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::NoChange(m) if m.contains("U111 is already the lead")),
            "{err:?}"
        );
    }

    #[test]
    fn summaries_stay_on_one_line() {
        let applied = incident()
            .apply(
                &status(Status::Identified, Some("line one\nline two\r\nthree")),
                t0(),
            )
            .unwrap();
        assert_eq!(
            applied.summary,
            "status investigating → identified: line one line two three"
        );
        // Summaries are plain text: no escaping here.
        let applied = incident()
            .apply(
                &Change::Resolve {
                    note: Some("<!channel> & done".to_owned()),
                },
                t0(),
            )
            .unwrap();
        assert_eq!(applied.summary, "resolved: <!channel> & done");
    }

    #[test]
    fn apply_does_not_mutate_the_original() {
        let inc = incident();
        let _ = inc.apply(&Change::Severity(Severity::Sev1), t0()).unwrap();
        assert_eq!(inc, incident());
    }

    #[test]
    fn duration_open_resolved_and_clock_skew() {
        let inc = incident();
        assert_eq!(
            inc.duration(t0() + TimeDelta::minutes(45)),
            TimeDelta::minutes(45)
        );
        assert_eq!(
            inc.duration(t0() - TimeDelta::minutes(5)),
            TimeDelta::zero()
        );
        let res = resolved();
        // Measured to resolved_at, whatever `now` is.
        assert_eq!(res.duration(t0() + TimeDelta::days(3)), TimeDelta::hours(1));
        // Reopened: measured to now again.
        let reopened = res
            .apply(
                &status(Status::Investigating, None),
                t0() + TimeDelta::hours(2),
            )
            .unwrap()
            .incident;
        assert_eq!(
            reopened.duration(t0() + TimeDelta::hours(3)),
            TimeDelta::hours(3)
        );
    }
}
