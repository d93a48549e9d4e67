//! Private incidents: what each audience outside an incident's own channel may see of it.
//!
//! A private incident (`/incident declare --private …`, or an incident type marked private)
//! runs in a private Slack channel. Everywhere else, the status channel, the periodic and
//! weekly summaries, App Home, managers' DMs, `/incident list`, it is shown as one redacted
//! line, "a private SEV2 incident, lead @x", unless the audience may see the details:
//!
//! - the incident's own channel (only its members read it),
//! - a person who is a member of that channel (App Home: asked of Slack with
//!   `conversations.members` when the tab is published; `/incident list`: known only when
//!   it is run inside the incident's channel),
//! - a person listed in `[incident] private_viewers`.
//!
//! A shared surface (the status channel, a message several people read) sees the redacted
//! line, always. Stakeholder updates of a private incident are not posted to the status
//! channel at all: they go to the incident channel and, as DMs, to the private viewers
//! ([`update_goes_to_status_channel`]).
//!
//! The decision is made here, once; the renderers (`slack::render`) ask it for every
//! incident they show, so a surface cannot forget a private incident. [`SURFACES`] is the
//! same decision written down as a table, mirrored in SECURITY.md (a test keeps the two
//! equal).

use std::collections::BTreeSet;

use super::incident::{IncidentId, IncidentRecord};
use super::severity::Severity;
use super::timeline::UserId;

/// Who is looking at a surface outside an incident's own channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// In `[incident] private_viewers`: sees every private incident's details.
    private_viewer: bool,
    /// The private incidents this viewer is known to be a member of (their channel).
    member_of: BTreeSet<IncidentId>,
}

/// What a viewer gets of one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sight {
    /// Title, status, channel, everything: a public incident, or a private one the viewer
    /// may see.
    Details,
    /// Only the redacted line.
    Redacted(Redacted),
}

/// All that a private incident shows to those who may not see it: "a private SEV2
/// incident, lead @x". No id, title, status, channel or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub severity: Severity,
    pub lead: Option<UserId>,
}

impl Viewer {
    /// A shared surface (the status channel, a message many people read): private
    /// incidents are redacted.
    pub fn public() -> Viewer {
        Viewer::default()
    }

    /// One person: `private_viewer` when listed in `[incident] private_viewers`;
    /// `member_of` the private incidents whose channel they are known to be in.
    pub fn person(private_viewer: bool, member_of: impl IntoIterator<Item = IncidentId>) -> Viewer {
        Viewer {
            private_viewer,
            member_of: member_of.into_iter().collect(),
        }
    }

    /// What this viewer may see of `record`.
    pub fn sight(&self, record: &IncidentRecord) -> Sight {
        let id = record.incident.id;
        if !record.private || self.private_viewer || self.member_of.contains(&id) {
            Sight::Details
        } else {
            Sight::Redacted(Redacted {
                severity: record.incident.severity,
                lead: record.incident.lead.clone(),
            })
        }
    }

    /// Whether this viewer sees every private incident (`[incident] private_viewers`).
    pub fn sees_all_private(&self) -> bool {
        self.private_viewer
    }

    /// Whether this viewer sees `record`'s details.
    pub fn sees_details(&self, record: &IncidentRecord) -> bool {
        matches!(self.sight(record), Sight::Details)
    }
}

/// Whether a stakeholder update of `record` is posted to the status channel. A private
/// incident's is not: it goes to its channel and to the private viewers' DMs only.
pub fn update_goes_to_status_channel(record: &IncidentRecord) -> bool {
    !record.private
}

/// One surface outside an incident's channel and who sees a private incident's details
/// there, as SECURITY.md lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surface {
    pub name: &'static str,
    pub details_to: &'static str,
}

/// Every surface that shows incidents outside their channel, and who sees a private one's
/// details there (everyone else: the redacted line, or nothing for updates).
pub const SURFACES: &[Surface] = &[
    Surface {
        name: "the incident channel (header, notices, timeline, catch-up)",
        details_to: "its members (a private channel: only members read it)",
    },
    Surface {
        name: "status channel: status, severity and resolve notices",
        details_to: "nobody (the redacted line)",
    },
    Surface {
        name: "status channel: stakeholder updates",
        details_to: "not posted there; sent to `[incident] private_viewers` as DMs",
    },
    Surface {
        name: "status channel: periodic summary, weekly report",
        details_to: "nobody (the redacted line; the weekly report has counts only)",
    },
    Surface {
        name: "managers' DMs: periodic summary",
        details_to: "managers listed in `[incident] private_viewers`",
    },
    Surface {
        name: "App Home",
        details_to: "members of the channel (`conversations.members` when the tab is published) and `[incident] private_viewers`",
    },
    Surface {
        name: "`/incident list`",
        details_to: "the caller, run inside the incident's channel; `[incident] private_viewers` anywhere",
    },
    Surface {
        name: "`/incident stats`, `warroom report`",
        details_to: "counts only, no titles, for every incident",
    },
    Surface {
        name: "channel name",
        details_to: "nobody: `inc-YYYYMMDD-private`, never the title",
    },
];

/// [`SURFACES`] as the Markdown table in SECURITY.md.
pub fn surfaces_markdown() -> String {
    let mut out = String::from("| surface | a private incident's details are shown to |\n");
    out.push_str("| --- | --- |\n");
    for s in SURFACES {
        out.push_str(&format!("| {} | {} |\n", s.name, s.details_to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Incident, Status};
    use chrono::TimeZone;

    fn record(id: i64, private: bool) -> IncidentRecord {
        let lead = UserId::parse("U0LEAD").unwrap();
        IncidentRecord {
            incident: Incident {
                id: IncidentId(id),
                title: "Payroll export leaks salaries".into(),
                severity: Severity::Sev2,
                status: Status::Investigating,
                lead: Some(lead.clone()),
                declared_by: lead,
                opened_at: chrono::Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
                resolved_at: None,
            },
            channel_name: "inc-20261203-private".into(),
            channel_id: Some(crate::domain::ChannelId::new("C0PRIV")),
            header_ts: None,
            header_pinned: false,
            members_invited: false,
            private,
            incident_type: None,
        }
    }

    #[test]
    fn a_public_incident_is_shown_to_everyone() {
        let r = record(1, false);
        assert_eq!(Viewer::public().sight(&r), Sight::Details);
        assert_eq!(Viewer::person(false, []).sight(&r), Sight::Details);
    }

    #[test]
    fn a_private_incident_is_redacted_for_the_public_and_non_members() {
        let r = record(2, true);
        let redacted = Sight::Redacted(Redacted {
            severity: Severity::Sev2,
            lead: Some(UserId::parse("U0LEAD").unwrap()),
        });
        assert_eq!(Viewer::public().sight(&r), redacted);
        assert_eq!(Viewer::person(false, []).sight(&r), redacted);
        // Member of another private incident only.
        assert_eq!(Viewer::person(false, [IncidentId(3)]).sight(&r), redacted);
    }

    #[test]
    fn members_and_private_viewers_see_the_details() {
        let r = record(2, true);
        assert!(Viewer::person(false, [IncidentId(2)]).sees_details(&r));
        assert!(Viewer::person(true, []).sees_details(&r));
    }

    #[test]
    fn private_updates_stay_off_the_status_channel() {
        assert!(update_goes_to_status_channel(&record(1, false)));
        assert!(!update_goes_to_status_channel(&record(2, true)));
    }

    #[test]
    fn security_md_shows_the_same_surfaces() {
        let doc = include_str!("../../SECURITY.md");
        let table = surfaces_markdown();
        assert!(doc.contains(&table), "SECURITY.md should contain:\n{table}");
    }
}
