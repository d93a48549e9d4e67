//! `[escalation]`: AWS Support cases, their severities, response targets and nudges.

use super::*;

/// AWS's limit on a case's `ccEmailAddresses`.
pub const MAX_CC_EMAIL_ADDRESSES: usize = 10;

/// Shortest `renudge_every` and `support_poll_interval`: faster would spam the channel or
/// spend the Support API's rate limit for nothing.
pub(super) const MIN_ESCALATION_PERIOD: Duration = Duration::from_secs(10);

/// `[escalation]`: when warroom nudges towards AWS Support, and how it talks to it.
#[derive(Debug, Clone)]
pub struct EscalationConfig {
    /// Time from opening to the first "open an AWS Support case" nudge.
    pub aws_support_after: Duration,
    /// Per-severity overrides of `aws_support_after`.
    pub aws_support_after_by_severity: BTreeMap<Severity, Duration>,
    /// How often an unanswered nudge is repeated.
    pub renudge_every: Duration,
    /// Nudge the lead when no stakeholder update was posted for this long; `None` = off.
    pub update_every: Option<Duration>,
    /// Whether warroom calls the Support API. Off: nudges link to the Support Center instead.
    pub support_api: bool,
    /// `ccEmailAddresses` of every case (at most 10, AWS's limit).
    pub cc_email_addresses: Vec<String>,
    /// Members of this Slack user group may open and resolve cases, besides the lead and
    /// responders.
    pub support_usergroup: Option<String>,
    /// Prefilled `serviceCode` / `categoryCode` (AWS's codes from DescribeServices).
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// How often open cases are asked for new correspondence.
    pub support_poll_interval: Duration,
    /// Incident severity → case severity (every severity present).
    pub case_severity: BTreeMap<Severity, SupportSeverity>,
    /// AWS's first-response target per case severity (every severity present).
    pub response_targets: BTreeMap<SupportSeverity, Duration>,
}

impl EscalationConfig {
    /// When an incident of this severity gets its first AWS Support nudge, after opening.
    pub fn support_after(&self, sev: Severity) -> Duration {
        self.aws_support_after_by_severity
            .get(&sev)
            .copied()
            .unwrap_or(self.aws_support_after)
    }

    /// The case severity for an incident of this severity.
    pub fn case_severity_for(&self, sev: Severity) -> SupportSeverity {
        self.case_severity
            .get(&sev)
            .copied()
            .unwrap_or_else(|| default_case_severity(sev))
    }

    /// AWS's first-response target for a case of this severity.
    pub fn response_target(&self, s: SupportSeverity) -> Duration {
        self.response_targets
            .get(&s)
            .copied()
            .unwrap_or_else(|| default_response_target(s))
    }
}

/// Critical needs an Enterprise plan, so no incident severity maps to it unless configured.
pub(super) fn default_case_severity(sev: Severity) -> SupportSeverity {
    match sev {
        Severity::Sev1 => SupportSeverity::Urgent,
        Severity::Sev2 => SupportSeverity::High,
        Severity::Sev3 => SupportSeverity::Normal,
        Severity::Sev4 => SupportSeverity::Low,
    }
}

/// AWS's published first-response targets (the best plan offering each severity).
pub(super) fn default_response_target(s: SupportSeverity) -> Duration {
    let minutes = match s {
        SupportSeverity::Critical => 15,
        SupportSeverity::Urgent => 60,
        SupportSeverity::High => 4 * 60,
        SupportSeverity::Normal => 12 * 60,
        SupportSeverity::Low => 24 * 60,
    };
    Duration::from_secs(minutes * 60)
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            aws_support_after: Duration::from_secs(30 * 60),
            aws_support_after_by_severity: BTreeMap::new(),
            renudge_every: Duration::from_secs(15 * 60),
            update_every: Some(Duration::from_secs(60 * 60)),
            support_api: true,
            cc_email_addresses: Vec::new(),
            support_usergroup: None,
            service_code: None,
            category_code: None,
            support_poll_interval: Duration::from_secs(60),
            case_severity: Severity::ALL
                .into_iter()
                .map(|sev| (sev, default_case_severity(sev)))
                .collect(),
            response_targets: SupportSeverity::ALL
                .into_iter()
                .map(|s| (s, default_response_target(s)))
                .collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEscalation {
    pub(super) aws_support_after: Option<String>,
    #[serde(default)]
    pub(super) aws_support_after_by_severity: BTreeMap<String, String>,
    pub(super) renudge_every: Option<String>,
    pub(super) update_every: Option<String>,
    pub(super) support_api: Option<bool>,
    #[serde(default)]
    pub(super) cc_email_addresses: Vec<String>,
    pub(super) support_usergroup: Option<String>,
    pub(super) service_code: Option<String>,
    pub(super) category_code: Option<String>,
    pub(super) support_poll_interval: Option<String>,
    #[serde(default)]
    pub(super) case_severity: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) response_targets: BTreeMap<String, String>,
}

/// `[escalation]`, checked key by key; the severity tables override the defaults entry by
/// entry, so `case_severity` and `response_targets` always cover every severity.
pub(super) fn escalation_config(
    raw: RawEscalation,
    defaults: &EscalationConfig,
) -> Result<EscalationConfig, ConfigError> {
    let renudge_every = duration(
        "[escalation] renudge_every",
        raw.renudge_every,
        defaults.renudge_every,
    )?;
    at_least(
        "[escalation] renudge_every",
        renudge_every,
        MIN_ESCALATION_PERIOD,
    )?;
    let support_poll_interval = duration(
        "[escalation] support_poll_interval",
        raw.support_poll_interval,
        defaults.support_poll_interval,
    )?;
    at_least(
        "[escalation] support_poll_interval",
        support_poll_interval,
        MIN_ESCALATION_PERIOD,
    )?;
    let update_every = match raw.update_every {
        None => defaults.update_every,
        Some(text) if text.trim().eq_ignore_ascii_case("off") => None,
        Some(text) => Some(
            duration("[escalation] update_every", Some(text), Duration::ZERO).map_err(
                |e| match e {
                    ConfigError::Invalid { key, problem } => ConfigError::Invalid {
                        key,
                        problem: format!("{problem}, or \"off\" to turn the nudge off"),
                    },
                    other => other,
                },
            )?,
        ),
    };

    let mut aws_support_after_by_severity = BTreeMap::new();
    for (sev, text) in raw.aws_support_after_by_severity {
        let key = format!("[escalation.aws_support_after_by_severity] {sev}");
        let severity = severity_key(&key, &sev, |s| {
            aws_support_after_by_severity.contains_key(&s)
        })?;
        let d = duration(&key, Some(text), Duration::ZERO)?;
        aws_support_after_by_severity.insert(severity, d);
    }

    let mut case_severity = defaults.case_severity.clone();
    let mut seen = BTreeSet::new();
    for (sev, level) in raw.case_severity {
        let key = format!("[escalation.case_severity] {sev}");
        let severity = severity_key(&key, &sev, |s| seen.contains(&s))?;
        let level = level
            .parse::<SupportSeverity>()
            .map_err(|e| invalid(&key, e))?;
        seen.insert(severity);
        case_severity.insert(severity, level);
    }

    let mut response_targets = defaults.response_targets.clone();
    let mut seen = BTreeSet::new();
    for (level, text) in raw.response_targets {
        let key = format!("[escalation.response_targets] {level}");
        let support = level
            .parse::<SupportSeverity>()
            .map_err(|e| invalid(&key, e))?;
        if !seen.insert(support) {
            return Err(invalid(&key, format!("sets {support} a second time")));
        }
        response_targets.insert(support, duration(&key, Some(text), Duration::ZERO)?);
    }

    if raw.cc_email_addresses.len() > MAX_CC_EMAIL_ADDRESSES {
        return Err(invalid(
            "[escalation] cc_email_addresses",
            format!(
                "has {} addresses; AWS accepts at most {MAX_CC_EMAIL_ADDRESSES} per case",
                raw.cc_email_addresses.len()
            ),
        ));
    }
    for (i, address) in raw.cc_email_addresses.iter().enumerate() {
        if !is_plausible_email(address) {
            return Err(invalid(
                &format!("[escalation] cc_email_addresses[{i}]"),
                format!("\"{address}\" is not an e-mail address (like oncall@example.com)"),
            ));
        }
    }
    if let Some(g) = &raw.support_usergroup {
        check_usergroup("[escalation] support_usergroup", g)?;
    }
    for (key, code) in [
        ("[escalation] service_code", &raw.service_code),
        ("[escalation] category_code", &raw.category_code),
    ] {
        if let Some(code) = code {
            check_support_code(key, code)?;
        }
    }

    Ok(EscalationConfig {
        aws_support_after: duration(
            "[escalation] aws_support_after",
            raw.aws_support_after,
            defaults.aws_support_after,
        )?,
        aws_support_after_by_severity,
        renudge_every,
        update_every,
        support_api: raw.support_api.unwrap_or(defaults.support_api),
        cc_email_addresses: raw.cc_email_addresses,
        support_usergroup: raw.support_usergroup,
        service_code: raw.service_code,
        category_code: raw.category_code,
        support_poll_interval,
        case_severity,
        response_targets,
    })
}

/// A severity used as a table key; `sev1` and `1` are the same severity, so giving both is
/// an error rather than a silent choice.
pub(super) fn severity_key(
    key: &str,
    text: &str,
    seen: impl Fn(Severity) -> bool,
) -> Result<Severity, ConfigError> {
    let severity = text.parse::<Severity>().map_err(|e| invalid(key, e))?;
    if seen(severity) {
        return Err(invalid(
            key,
            format!("sets {} a second time", severity.to_string().to_lowercase()),
        ));
    }
    Ok(severity)
}

/// Plausible, not verified: one `@` with something on both sides, and nothing that would
/// split or wrap the address in a list (`,`, `<`, `>`, whitespace).
pub(super) fn is_plausible_email(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.contains(|c: char| c.is_whitespace() || matches!(c, ',' | '<' | '>'))
        }
        None => false,
    }
}

/// AWS's service and category codes are short ASCII words with hyphens
/// (`amazon-elastic-compute-cloud-linux`, `other`); an empty one would ask AWS for nothing.
pub(super) fn check_support_code(key: &str, code: &str) -> Result<(), ConfigError> {
    let ok = !code.is_empty()
        && code.len() <= 100
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "\"{code}\" is not an AWS Support code (like \"amazon-elastic-compute-cloud-linux\" or \"other\"; see aws support describe-services); remove the key to let AWS choose"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn escalation(text: &str) -> EscalationConfig {
        Config::parse(text).unwrap().escalation
    }

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_map_every_severity_and_leave_critical_opt_in() {
        let e = escalation("");
        assert_eq!(e.aws_support_after, minutes(30));
        assert!(e.aws_support_after_by_severity.is_empty());
        assert_eq!(e.renudge_every, minutes(15));
        assert_eq!(e.update_every, Some(minutes(60)));
        assert!(e.support_api);
        assert!(e.cc_email_addresses.is_empty());
        assert_eq!(e.support_usergroup, None);
        assert_eq!(e.service_code, None);
        assert_eq!(e.category_code, None);
        assert_eq!(e.support_poll_interval, minutes(1));
        for sev in Severity::ALL {
            assert_eq!(e.support_after(sev), minutes(30), "{sev}");
        }
        let cases: Vec<_> = Severity::ALL
            .into_iter()
            .map(|s| e.case_severity_for(s))
            .collect();
        assert_eq!(
            cases,
            [
                SupportSeverity::Urgent,
                SupportSeverity::High,
                SupportSeverity::Normal,
                SupportSeverity::Low
            ]
        );
        assert_eq!(e.case_severity.len(), Severity::ALL.len());
        let targets: Vec<_> = SupportSeverity::ALL
            .into_iter()
            .map(|s| e.response_target(s))
            .collect();
        assert_eq!(
            targets,
            [
                minutes(24 * 60),
                minutes(12 * 60),
                minutes(4 * 60),
                minutes(60),
                minutes(15)
            ]
        );
        assert_eq!(e.response_targets.len(), SupportSeverity::ALL.len());
    }

    #[test]
    fn the_documented_example_parses() {
        let e = escalation(
            r#"
            [escalation]
            aws_support_after = "30m"
            renudge_every = "15m"
            update_every = "1h"
            support_api = true
            cc_email_addresses = ["oncall@example.com"]
            support_usergroup = "S0AWSADMINS"
            service_code = "amazon-elastic-compute-cloud-linux"
            category_code = "other"
            support_poll_interval = "1m"

            [escalation.aws_support_after_by_severity]
            sev1 = "15m"
            sev3 = "2h"

            [escalation.case_severity]
            sev1 = "critical"

            [escalation.response_targets]
            urgent = "30m"
            "#,
        );
        assert_eq!(e.support_after(Severity::Sev1), minutes(15));
        assert_eq!(e.support_after(Severity::Sev2), minutes(30));
        assert_eq!(e.support_after(Severity::Sev3), minutes(120));
        assert_eq!(e.support_after(Severity::Sev4), minutes(30));
        // Overrides replace one entry; the rest keep their defaults.
        assert_eq!(
            e.case_severity_for(Severity::Sev1),
            SupportSeverity::Critical
        );
        assert_eq!(e.case_severity_for(Severity::Sev2), SupportSeverity::High);
        assert_eq!(e.response_target(SupportSeverity::Urgent), minutes(30));
        assert_eq!(e.response_target(SupportSeverity::Critical), minutes(15));
        assert_eq!(e.cc_email_addresses, ["oncall@example.com"]);
        assert_eq!(e.support_usergroup.as_deref(), Some("S0AWSADMINS"));
        assert_eq!(
            e.service_code.as_deref(),
            Some("amazon-elastic-compute-cloud-linux")
        );
        assert_eq!(e.category_code.as_deref(), Some("other"));
    }

    #[test]
    fn update_nudges_and_the_support_api_can_be_turned_off() {
        let e = escalation("[escalation]\nupdate_every = \"off\"\nsupport_api = false");
        assert_eq!(e.update_every, None);
        assert!(!e.support_api);
        let e = escalation("[escalation]\nupdate_every = \"OFF\"\nsupport_poll_interval = \"10s\"\nrenudge_every = \"10s\"");
        assert_eq!(e.update_every, None);
        assert_eq!(e.support_poll_interval, Duration::from_secs(10));
        assert_eq!(e.renudge_every, Duration::from_secs(10));
        assert_eq!(
            escalation("[escalation]\nupdate_every = \"45m\"").update_every,
            Some(minutes(45))
        );
    }

    #[test]
    fn severity_keys_accept_every_spelling_of_a_severity_once() {
        let e = escalation("[escalation.case_severity]\n4 = \"normal\"\nS2 = \"urgent\"");
        assert_eq!(e.case_severity_for(Severity::Sev4), SupportSeverity::Normal);
        assert_eq!(e.case_severity_for(Severity::Sev2), SupportSeverity::Urgent);
        let err = error("[escalation.case_severity]\nsev1 = \"urgent\"\n1 = \"high\"");
        assert!(err.contains("[escalation.case_severity]"), "{err}");
        assert!(err.contains("a second time"), "{err}");
        let err = error("[escalation.aws_support_after_by_severity]\nsev2 = \"5m\"\nSEV2 = \"9m\"");
        assert!(err.contains("sets sev2 a second time"), "{err}");
    }

    #[test]
    fn escalation_errors_name_the_key_and_the_problem() {
        let long_cc = format!(
            "[escalation]\ncc_email_addresses = [{}]",
            (0..11)
                .map(|i| format!("\"a{i}@example.com\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let cases: Vec<(&str, &str, &str)> = vec![
            (
                "[escalation]\naws_support_after = \"0s\"",
                "config key [escalation] aws_support_after",
                "longer than zero",
            ),
            (
                "[escalation]\naws_support_after = \"soon\"",
                "[escalation] aws_support_after",
                "is not a duration",
            ),
            (
                "[escalation]\nrenudge_every = \"9s\"",
                "[escalation] renudge_every",
                "at least 10s",
            ),
            (
                "[escalation]\nsupport_poll_interval = \"5s\"",
                "[escalation] support_poll_interval",
                "at least 10s",
            ),
            (
                "[escalation]\nsupport_poll_interval = \"0s\"",
                "[escalation] support_poll_interval",
                "longer than zero",
            ),
            (
                "[escalation]\nupdate_every = \"0s\"",
                "[escalation] update_every",
                "\"off\"",
            ),
            (
                "[escalation]\nupdate_every = \"never\"",
                "[escalation] update_every",
                "\"off\" to turn the nudge off",
            ),
            (
                "[escalation.aws_support_after_by_severity]\nsev9 = \"5m\"",
                "[escalation.aws_support_after_by_severity] sev9",
                "unknown severity \"sev9\"",
            ),
            (
                "[escalation.aws_support_after_by_severity]\nsev1 = \"0m\"",
                "[escalation.aws_support_after_by_severity] sev1",
                "longer than zero",
            ),
            (
                "[escalation.case_severity]\nsev9 = \"high\"",
                "config key [escalation.case_severity] sev9: unknown severity",
                "sev1",
            ),
            (
                "[escalation.case_severity]\nsev1 = \"sev1\"",
                "[escalation.case_severity] sev1",
                "unknown AWS Support severity \"sev1\"",
            ),
            (
                "[escalation.response_targets]\nsev1 = \"1h\"",
                "[escalation.response_targets] sev1",
                "low, normal, high, urgent or critical",
            ),
            (
                "[escalation.response_targets]\nhigh = \"0m\"",
                "[escalation.response_targets] high",
                "longer than zero",
            ),
            (
                "[escalation.response_targets]\nhigh = \"1h\"\nHIGH = \"2h\"",
                "[escalation.response_targets]",
                "sets high a second time",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"oncall\"]",
                "[escalation] cc_email_addresses[0]",
                "\"oncall\" is not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"ok@example.com\", \"@example.com\"]",
                "[escalation] cc_email_addresses[1]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"oncall@\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"a@b@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"a@example.com, b@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"on call@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"Ops <ops@example.com>\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                &long_cc,
                "[escalation] cc_email_addresses",
                "has 11 addresses; AWS accepts at most 10",
            ),
            (
                "[escalation]\nsupport_usergroup = \"aws-admins\"",
                "[escalation] support_usergroup",
                "not a Slack user group id",
            ),
            (
                "[escalation]\nsupport_usergroup = \"U0ALICE\"",
                "[escalation] support_usergroup",
                "not a Slack user group id",
            ),
            (
                "[escalation]\nservice_code = \"\"",
                "[escalation] service_code",
                "not an AWS Support code",
            ),
            (
                "[escalation]\ncategory_code = \"other category\"",
                "[escalation] category_code",
                "not an AWS Support code",
            ),
            ("[escalation]\nsupport_api = \"yes\"", "support_api", ""),
            (
                "[escalation]\ncc_emails = [\"a@example.com\"]",
                "cc_emails",
                "",
            ),
        ];
        for (text, key, problem) in cases {
            let err = error(text);
            assert!(
                err.contains(key),
                "{text:?} gave {err:?}, not naming {key:?}"
            );
            assert!(
                err.contains(problem),
                "{text:?} gave {err:?}, lacking {problem:?}"
            );
            assert!(!err.ends_with('.'), "{err}");
        }
    }

    #[test]
    fn ten_cc_addresses_are_accepted() {
        let list = (0..10)
            .map(|i| format!("\"team{i}+aws@example.co.uk\""))
            .collect::<Vec<_>>()
            .join(", ");
        let e = escalation(&format!("[escalation]\ncc_email_addresses = [{list}]"));
        assert_eq!(e.cc_email_addresses.len(), MAX_CC_EMAIL_ADDRESSES);
    }

    #[test]
    fn every_user_group_key_follows_one_rule() {
        // The same id shapes pass and fail in every place.
        for (group, ok) in [
            ("S0614TZR7", true),
            ("S1", true),
            ("S", false),
            ("s0614", false),
            ("G0614", false),
        ] {
            let support = Config::parse(&format!("[escalation]\nsupport_usergroup = \"{group}\""));
            let route = Config::parse(&format!(
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nusergroup = \"{group}\""
            ));
            let leads = Config::parse(&format!("[slack]\nincident_leads = \"{group}\""));
            assert_eq!(support.is_ok(), ok, "{group}");
            assert_eq!(route.is_ok(), ok, "{group}");
            assert_eq!(leads.is_ok(), ok, "{group}");
        }
    }

    #[test]
    fn the_shipped_examples_parse() {
        // deploy/warroom.toml and the README's example are what operators copy.
        let deploy = include_str!("../../deploy/warroom.toml");
        Config::parse(deploy).unwrap();
        let readme = include_str!("../../README.md");
        let block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("\n```").next())
            .unwrap();
        let c = Config::parse(block).unwrap();
        assert!(block.contains("[escalation]"));
        assert_eq!(c.escalation.support_after(Severity::Sev1), minutes(15));
    }
}
