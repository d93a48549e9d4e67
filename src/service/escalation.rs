//! Where escalation input arrives: the `/incident snooze|aws|escalate` commands, the
//! buttons on nudges and case notices, and the case modal. Each is turned into a
//! [`Request`] and handed to the nudge clocks ([`super::nudges`]) or the Support case
//! handling ([`super::support`]).

use anyhow::anyhow;
use chrono::Duration;

use super::nudges::Request;
use super::worker::Failure;
use super::Service;
use crate::domain::{Command, UserId};
use crate::slack::inbound::{ActionClick, CommandInvocation, ViewSubmission};
use crate::slack::render_support as render;
use crate::store::inbox::InboxRow;
use crate::store::incidents;

impl Service {
    /// `/incident snooze|aws …|escalate aws`.
    pub(super) async fn escalation_command(
        &self,
        row: &InboxRow,
        inv: &CommandInvocation,
        actor: UserId,
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

    /// The escalation buttons; returns `false` for a button that is not one of them.
    pub(super) async fn handle_escalation_click(
        &self,
        row: &InboxRow,
        click: &ActionClick,
    ) -> Result<bool, Failure> {
        let ours = [
            render::OPEN_CASE_ACTION,
            render::SNOOZE_ACTION,
            render::NOT_AWS_ACTION,
            render::RESOLVE_CASE_ACTION,
            render::LINK_ACTION,
        ];
        if !ours.contains(&click.action_id.as_str()) {
            return Ok(false);
        }
        if click.action_id == render::LINK_ACTION {
            return Ok(true); // the browser opened the link; nothing to do here
        }
        let Some(record) = incidents::by_channel(self.store.db(), &click.channel).await? else {
            return Ok(true);
        };
        let actor = UserId::parse(&click.user).map_err(|e| {
            Failure::Permanent(anyhow!("button click from an unusable user id: {e}"))
        })?;
        let req = Request {
            key: &row.dedupe_key,
            inbox_id: row.id,
            actor,
            at: click.at,
            response_url: Some(&click.response_url),
            clicked: click.message.as_ref(),
        };
        match click.action_id.as_str() {
            render::OPEN_CASE_ACTION => {
                self.show_case_modal(&req, &record, &click.trigger_id)
                    .await?
            }
            render::SNOOZE_ACTION => {
                let minutes = click
                    .value
                    .as_deref()
                    .and_then(|v| v.strip_suffix('m'))
                    .and_then(|m| m.parse::<i64>().ok())
                    .filter(|m| (1..=24 * 60).contains(m))
                    .unwrap_or(render::SNOOZE_BUTTON_MINUTES);
                self.snooze(&req, &record, Duration::minutes(minutes))
                    .await?
            }
            render::NOT_AWS_ACTION => self.set_involvement(&req, &record, false).await?,
            render::RESOLVE_CASE_ACTION => {
                let case_row = click.value.as_deref().and_then(|v| v.parse().ok());
                self.resolve_case_click(&req, &record, case_row).await?
            }
            _ => {}
        }
        Ok(true)
    }

    /// A submitted modal. Only the case form exists; others are logged and dropped.
    pub(super) async fn handle_submission(
        &self,
        row: &InboxRow,
        v: ViewSubmission,
    ) -> Result<(), Failure> {
        if v.callback_id == render::CASE_MODAL {
            self.case_submitted(row, &v).await
        } else {
            tracing::info!(callback_id = %v.callback_id, "ignoring an unknown modal");
            Ok(())
        }
    }
}
