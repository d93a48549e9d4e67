//! `[alarms]`: CloudWatch polling and the alarm routes.

use super::*;

#[derive(Debug, Clone)]
pub struct AlarmsConfig {
    /// Whether to poll CloudWatch at all: true when the file has an `[alarms]` section.
    pub enabled: bool,
    pub poll_interval: Duration,
    /// False with `poll_interval = "off"` (allowed only with `[events]`): alarms then come
    /// from the queue alone, and nothing reconciles a lost event.
    pub polling: bool,
    /// Regions polled (alarms are regional); `[aws] region` when not given.
    pub regions: Vec<String>,
    /// An alarm on the route of an open incident whose latest alarm fired less than this
    /// long before joins that incident instead of opening another.
    pub correlation_window: Duration,
    /// How often AWS Health is asked again while an alarm-opened incident is open.
    pub health_recheck: Duration,
    /// `[[alarms.route]]` in order, and `[alarms.default]`.
    pub routes: crate::domain::routing::Routes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlarms {
    pub(super) poll_interval: Option<String>,
    pub(super) regions: Option<Vec<String>>,
    pub(super) correlation_window: Option<String>,
    pub(super) health_recheck: Option<String>,
    pub(super) default: Option<RawRoute>,
    #[serde(default)]
    pub(super) route: Vec<RawRoute>,
}

/// `[[alarms.route]]` (and `[alarms.default]`, which has no match keys and no name).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub(super) name: Option<String>,
    pub(super) alarm_name: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) tags: Option<std::collections::BTreeMap<String, String>>,
    pub(super) severity: Option<String>,
    #[serde(default)]
    pub(super) responders: Vec<String>,
    pub(super) usergroup: Option<String>,
    pub(super) runbook: Option<String>,
    pub(super) opens_incident: Option<bool>,
    /// `"alarm"` (the default) or `"health"`.
    pub(super) source: Option<String>,
    /// One of the `[[incident.types]]`.
    #[serde(rename = "type")]
    pub(super) incident_type: Option<String>,
}

/// `[alarms]`: present means "poll CloudWatch". Routes are checked here so a typo in a
/// rule fails at start, with the rule named.
pub(super) fn alarms_config(
    raw: Option<RawAlarms>,
    aws_region: &str,
    defaults: &AlarmsConfig,
    events: bool,
    types: &[IncidentType],
) -> Result<AlarmsConfig, ConfigError> {
    use crate::domain::routing::{Route, Routes};
    let enabled = raw.is_some();
    let mut raw = raw.unwrap_or_default();
    let polling = match raw.poll_interval.as_deref() {
        Some(off) if off.trim().eq_ignore_ascii_case("off") => {
            if !events {
                return Err(invalid(
                    "[alarms] poll_interval",
                    "can be \"off\" only with [events] sqs_queue_url (alarms would never be seen)",
                ));
            }
            raw.poll_interval = None;
            false
        }
        _ => true,
    };
    let regions = match raw.regions {
        None => vec![aws_region.to_string()],
        Some(list) if list.is_empty() => {
            return Err(invalid(
                "[alarms] regions",
                "is empty; list at least one region or remove the key to use [aws] region",
            ))
        }
        Some(mut list) => {
            for (i, r) in list.iter().enumerate() {
                check_region(&format!("[alarms] regions[{i}]"), r)?;
            }
            let mut seen = std::collections::HashSet::new();
            list.retain(|r| seen.insert(r.clone()));
            list
        }
    };
    let default = match raw.default {
        None => Route::default_route(),
        Some(d) => {
            if d.name.is_some()
                || d.alarm_name.is_some()
                || d.namespace.is_some()
                || d.tags.is_some()
            {
                return Err(invalid(
                    "[alarms.default]",
                    "takes no name, alarm_name, namespace or tags: it applies when no route matches",
                ));
            }
            route_target("[alarms.default]", "default".to_string(), d, types)?
        }
    };
    let mut routes = Vec::new();
    for (i, r) in raw.route.into_iter().enumerate() {
        let key = format!("[[alarms.route]] #{}", i + 1);
        let name = match r.name.as_deref().map(str::trim) {
            None | Some("") => return Err(invalid(&format!("{key} name"), "is missing")),
            Some(n) => n.to_string(),
        };
        let key = format!("[[alarms.route]] \"{name}\"");
        if name == "default" || routes.iter().any(|x: &Route| x.name == name) {
            return Err(invalid(
                &format!("{key} name"),
                "is used twice (\"default\" is taken)",
            ));
        }
        routes.push(route_target(&key, name, r, types)?);
    }
    Ok(AlarmsConfig {
        enabled,
        polling,
        poll_interval: duration(
            "[alarms] poll_interval",
            raw.poll_interval,
            defaults.poll_interval,
        )?,
        regions,
        correlation_window: duration(
            "[alarms] correlation_window",
            raw.correlation_window,
            defaults.correlation_window,
        )?,
        health_recheck: duration(
            "[alarms] health_recheck",
            raw.health_recheck,
            defaults.health_recheck,
        )?,
        routes: Routes { routes, default },
    })
}

pub(super) fn route_target(
    key: &str,
    name: String,
    raw: RawRoute,
    types: &[IncidentType],
) -> Result<crate::domain::routing::Route, ConfigError> {
    use crate::domain::routing::{Glob, Matcher, Route};
    let matcher = Matcher {
        alarm_name: raw.alarm_name.as_deref().map(Glob::new),
        namespace: raw.namespace.as_deref().map(Glob::new),
        tags: raw
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Glob::new(&v)))
            .collect(),
    };
    let for_health = match raw.source.as_deref() {
        None | Some("alarm") => false,
        Some("health") => true,
        Some(other) => {
            return Err(invalid(
                &format!("{key} source"),
                format!("\"{other}\" is neither \"alarm\" nor \"health\""),
            ))
        }
    };
    if for_health && (name == "default" || !matcher.is_empty()) {
        return Err(invalid(
            &format!("{key} source"),
            "a \"health\" route takes every Health-opened incident: give it no alarm_name, namespace or tags (and not on [alarms.default])",
        ));
    }
    if name != "default" && !for_health && matcher.is_empty() {
        return Err(invalid(
            key,
            "matches nothing: give alarm_name, namespace or tags (use [alarms.default] for the rest)",
        ));
    }
    let incident_type = match &raw.incident_type {
        None => None,
        Some(t) => Some(types.iter().find(|x| &x.name == t).ok_or_else(|| {
            let known: Vec<&str> = types.iter().map(|x| x.name.as_str()).collect();
            invalid(
                &format!("{key} type"),
                if known.is_empty() {
                    format!("\"{t}\" is not configured: there are no [[incident.types]]")
                } else {
                    format!(
                        "\"{t}\" is not one of [[incident.types]] ({})",
                        known.join(", ")
                    )
                },
            )
        })?),
    };
    // The route's own severity, else its type's, else SEV3.
    let severity = match raw.severity {
        None => incident_type.map_or(crate::domain::Severity::DEFAULT, |t| t.severity),
        Some(s) => s
            .parse()
            .map_err(|e: String| invalid(&format!("{key} severity"), e))?,
    };
    let responders = parse_users(&format!("{key} responders"), &raw.responders)?;
    if let Some(g) = &raw.usergroup {
        check_usergroup(&format!("{key} usergroup"), g)?;
    }
    if let Some(url) = &raw.runbook {
        let parsed = url::Url::parse(url).map_err(|e| {
            invalid(
                &format!("{key} runbook"),
                format!("\"{url}\" is not a URL ({e})"),
            )
        })?;
        // Shown as a Slack link: only http(s), and nothing that could break out of `<…|…>`.
        if !matches!(parsed.scheme(), "http" | "https") || url.contains(['<', '>', '|', ' ']) {
            return Err(invalid(
                &format!("{key} runbook"),
                format!("\"{url}\" must be an http(s) URL without spaces, <, > or |"),
            ));
        }
    }
    Ok(Route {
        name,
        matcher,
        severity,
        responders,
        usergroup: raw.usergroup,
        runbook: raw.runbook,
        opens_incident: raw.opens_incident.unwrap_or(true),
        for_health,
        incident_type: raw.incident_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_are_off_without_the_section_and_default_to_the_aws_region() {
        let off = Config::parse("[aws]\nregion = \"eu-west-1\"")
            .unwrap()
            .alarms;
        assert!(!off.enabled);
        let on = Config::parse("[aws]\nregion = \"eu-west-1\"\n[alarms]")
            .unwrap()
            .alarms;
        assert!(on.enabled);
        assert_eq!(on.regions, ["eu-west-1"]);
        assert_eq!(on.correlation_window, Duration::from_secs(1800));
        assert_eq!(on.routes.default.name, "default");
        assert!(on.routes.routes.is_empty());
    }

    #[test]
    fn routes_parse_in_order() {
        let c = Config::parse(
            r#"
            [alarms]
            regions = ["us-east-1", "eu-west-1"]
            correlation_window = "10m"
            [alarms.default]
            severity = "sev4"
            opens_incident = false
            [[alarms.route]]
            name = "payments-db"
            namespace = "AWS/RDS"
            tags = { team = "payments" }
            severity = "sev1"
            responders = ["U0DBA"]
            usergroup = "S0DBAS"
            runbook = "https://wiki.example.com/rds?x=1"
            [[alarms.route]]
            name = "prod"
            alarm_name = "prod-*"
            "#,
        )
        .unwrap()
        .alarms;
        assert_eq!(c.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(c.correlation_window, Duration::from_secs(600));
        let r = &c.routes.routes;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "payments-db");
        assert_eq!(r[0].severity, crate::domain::Severity::Sev1);
        assert_eq!(r[0].usergroup.as_deref(), Some("S0DBAS"));
        assert_eq!(r[0].matcher.tags.len(), 1);
        assert!(r[1].opens_incident);
        assert_eq!(c.routes.default.severity, crate::domain::Severity::Sev4);
        assert!(!c.routes.default.opens_incident);
    }

    #[test]
    fn alarm_errors_name_the_key() {
        let cases = [
            ("[alarms]\nregions = []", "[alarms] regions"),
            ("[alarms]\nregions = [\"Mars\"]", "[alarms] regions[0]"),
            ("[alarms]\ncorrelation_window = \"soon\"", "[alarms] correlation_window"),
            ("[[alarms.route]]\nalarm_name = \"x\"", "[[alarms.route]] #1 name"),
            ("[[alarms.route]]\nname = \"all\"", "[[alarms.route]] \"all\""),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nseverity = \"huge\"",
                "[[alarms.route]] \"a\" severity",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nusergroup = \"oncall\"",
                "[[alarms.route]] \"a\" usergroup",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nrunbook = \"https://x/<!channel>\"",
                "[[alarms.route]] \"a\" runbook",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nresponders = [\"bob\"]",
                "[[alarms.route]] \"a\" responders[0]",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"y\"",
                "[[alarms.route]] \"a\" name",
            ),
            ("[alarms.default]\nalarm_name = \"x\"", "[alarms.default]"),
            ("[[alarms.route]]\nname = \"a\"\nalarm = \"x\"", "alarm"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
            assert!(!err.ends_with('.'), "{err}");
        }
    }
}
