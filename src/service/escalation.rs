//! Where escalation input arrives: the `/incident snooze|aws|escalate` commands, the
//! buttons on nudges and case notices, and the case modal. Each is turned into a
//! [`Request`] and handed to the nudge clocks ([`super::nudges`]) or the Support case
//! handling ([`super::support`]).

use chrono::Duration;

use super::authorization::Actor;
use super::authorization::Ask;
use super::nudges::Request;
use super::worker::Failure;
use super::Service;
use crate::domain::authorization::Action;
use crate::domain::Command;
use crate::slack::inbound::{ActionClick, CommandInvocation, ViewSubmission};
use crate::slack::render_support as render;
use crate::store::inbox::InboxRow;

impl Service {
    /// `/incident snooze|aws …|escalate aws`.
    pub(super) async fn escalation_command(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: Actor,
        cmd: Command,
    ) -> Result<(), Failure> {
        let Some(record) = self.incident_here(inv).await? else {
            return Ok(());
        };
        let req = Request {
            key: &row.dedupe_key,
            inbox_id: row.id,
            actor,
            at: inv.at,
            response_url: Some(&inv.response_url),
            channel: record.channel_id.as_deref(),
            clicked: None,
        };
        match cmd {
            Command::Snooze(d) => self.snooze(&req, &record, d).await,
            Command::AwsInvolved(yes) => self.set_involvement(&req, &record, yes).await,
            Command::AwsStatus => self.aws_status(&req, &record).await,
            Command::AwsReply { text } => self.aws_reply(&req, &record, &text).await,
            Command::EscalateAws { severity } => {
                self.escalate_command(&req, &record, severity).await
            }
            _ => Ok(()),
        }
    }

    /// A click on a button of one of warroom's messages, through the checkpoint, then to
    /// what the button does. Link buttons and unknown ones ask for nothing.
    pub(super) async fn handle_click(
        &self,
        row: &InboxRow,
        click: ActionClick,
    ) -> Result<(), Failure> {
        let Some(admitted) = self.checkpoint(row, Ask::Click(&click)).await? else {
            return Ok(());
        };
        // Buttons are only on messages in incident channels.
        let Some(record) = admitted.record else {
            return Ok(());
        };
        let req = Request {
            key: &row.dedupe_key,
            inbox_id: row.id,
            actor: admitted.actor,
            at: click.at,
            response_url: Some(&click.response_url),
            channel: record.channel_id.as_deref(),
            clicked: click.message.as_ref(),
        };
        match admitted.action {
            Action::OpenCaseButton => self.show_case_modal(&req, &record, &click.trigger_id).await,
            Action::SnoozeButton => {
                let minutes = click
                    .value
                    .as_deref()
                    .and_then(|v| v.strip_suffix('m'))
                    .and_then(|m| m.parse::<i64>().ok())
                    .filter(|m| (1..=24 * 60).contains(m))
                    .unwrap_or(render::SNOOZE_BUTTON_MINUTES);
                self.snooze(&req, &record, Duration::minutes(minutes)).await
            }
            Action::NotAwsButton => self.set_involvement(&req, &record, false).await,
            Action::ResolveCaseButton => {
                let case_row = click.value.as_deref().and_then(|v| v.parse().ok());
                self.resolve_case_click(&req, &record, case_row).await
            }
            Action::DraftPostmortemButton => self.postmortem_click(&req, &record).await,
            Action::KeepOpenButton => self.keep_open_click(&req, &record).await,
            Action::ChecklistTickButton => {
                self.checklist_click(&req, &record, click.value.as_deref(), &click.message_ts)
                    .await
            }
            other => {
                tracing::warn!(
                    action = other.name(),
                    "a button mapped to an action that is not a button"
                );
                Ok(())
            }
        }
    }

    /// A submitted form, through the checkpoint. Only the case form exists.
    pub(super) async fn handle_submission(
        &self,
        row: &InboxRow,
        v: ViewSubmission,
    ) -> Result<(), Failure> {
        let Some(admitted) = self.checkpoint(row, Ask::Form(&v)).await? else {
            return Ok(());
        };
        let (Action::CaseForm, Some(record)) = (admitted.action, admitted.record) else {
            return Ok(());
        };
        let req = Request {
            key: &row.dedupe_key,
            inbox_id: row.id,
            actor: admitted.actor,
            at: v.at,
            response_url: None,
            channel: record.channel_id.as_deref(),
            clicked: None,
        };
        self.case_submitted(&req, &record, &v).await
    }
}
