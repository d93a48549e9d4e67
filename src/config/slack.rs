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
    pub status_channel: Option<ChannelId>,
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

/// `[slack]` checked: the API base (https, or http to this machine only), the people, the
/// status channel, the connection count.
pub(super) fn slack_config(
    raw: RawSlack,
    defaults: &SlackConfig,
) -> Result<SlackConfig, ConfigError> {
    let api_url = raw.api_url.unwrap_or_else(|| defaults.api_url.clone());
    let parsed = url::Url::parse(&api_url)
        .map_err(|e| invalid("[slack] api_url", format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("[slack] api_url", "must be an http(s) URL"));
    }
    // The bot token travels with every call: only over TLS, except to this machine
    // (the emulator, a local proxy).
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        return Err(invalid(
                "[slack] api_url",
                "must be https:// (the bot token is sent with every call); plain http is only for a loopback address such as 127.0.0.1 or localhost",
            ));
    }
    if !api_url.ends_with('/') {
        return Err(invalid(
            "[slack] api_url",
            format!("must end with '/' (e.g. \"{api_url}/\")"),
        ));
    }
    let responders = parse_users("[slack] responders", &raw.responders)?;
    if let Some(g) = &raw.incident_leads {
        check_usergroup("[slack] incident_leads", g)?;
    }
    let managers = parse_users("[slack] managers", &raw.managers)?;
    if let Some(ch) = &raw.status_channel {
        if !is_channel_id(ch) {
            return Err(invalid(
                "[slack] status_channel",
                format!("\"{ch}\" is not a Slack channel id (like C024BE91L)"),
            ));
        }
    }
    let socket_connections = raw
        .socket_connections
        .unwrap_or(defaults.socket_connections);
    if !(1..=10).contains(&socket_connections) {
        return Err(invalid(
            "[slack] socket_connections",
            "must be between 1 and 10 (Slack's limit)",
        ));
    }
    Ok(SlackConfig {
        api_url,
        responders,
        incident_leads: raw.incident_leads,
        managers,
        status_channel: raw.status_channel.map(ChannelId::new),
        proactive_rate_limits: raw
            .proactive_rate_limits
            .unwrap_or(defaults.proactive_rate_limits),
        socket_connections,
    })
}
