//! `[slack]`: the Web API base URL, responders, leads, managers, Socket Mode connections.

use super::*;

#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Web API base, ending in `/`. GovSlack users set `https://slack-gov.com/api/`; the demo
    /// and tests point it at the emulator.
    pub api_url: String,
    /// Invited to every new incident channel.
    pub responders: Vec<UserId>,
    /// A Slack user group (`S0…`) whose members may run any incident: change its status,
    /// severity and lead, resolve it, post updates and handle its AWS Support case.
    pub incident_leads: Option<String>,
    /// Receive periodic summaries by DM.
    pub managers: Vec<UserId>,
    /// Stakeholder updates and summaries go here.
    pub status_channel: Option<String>,
    /// Space Web API calls by Slack's published per-method tiers, and `chat.postMessage` at
    /// one per second per channel, before Slack has to say 429. On by default; the
    /// emulator-backed demo and tests turn it off to run at full speed.
    pub proactive_rate_limits: bool,
    /// How many Socket Mode connections to keep open (Slack allows up to 10; two survive a
    /// refresh without a gap).
    pub socket_connections: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    pub(super) api_url: Option<String>,
    #[serde(default)]
    pub(super) responders: Vec<String>,
    pub(super) incident_leads: Option<String>,
    #[serde(default)]
    pub(super) managers: Vec<String>,
    pub(super) status_channel: Option<String>,
    pub(super) proactive_rate_limits: Option<bool>,
    pub(super) socket_connections: Option<u32>,
}

/// A Slack user group id (`S0614TZR7`): warroom puts it in `<!subteam^…>` mentions and
/// `usergroups.users.list` calls, so nothing else may pass.
pub(super) fn check_usergroup(key: &str, group: &str) -> Result<(), ConfigError> {
    let ok = group.len() >= 2
        && group.len() <= 32
        && group.starts_with('S')
        && group
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("\"{group}\" is not a Slack user group id (like S0614TZR7)"),
        ))
    }
}

pub(super) fn parse_users(key: &str, raw: &[String]) -> Result<Vec<UserId>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, u)| {
            UserId::parse(u).map_err(|e| invalid(&format!("{key}[{i}]"), format!("\"{u}\": {e}")))
        })
        .collect()
}

pub(super) fn is_channel_id(s: &str) -> bool {
    s.len() >= 2
        && s.len() <= 32
        && matches!(s.as_bytes()[0], b'C' | b'G')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
