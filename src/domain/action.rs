//! Action items (`/incident action …`): follow-ups numbered per incident from 1, the read
//! model `/incident actions` and the postmortem show.

use chrono::{DateTime, Utc};

use super::incident::IncidentId;
use super::timeline::UserId;

/// One action item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub incident_id: IncidentId,
    /// 1, 2, 3 … within the incident; what `/incident action done <n>` names.
    pub number: u32,
    pub text: String,
    pub owner: Option<UserId>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

impl ActionItem {
    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }
}
