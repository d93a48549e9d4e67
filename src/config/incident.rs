//! `[incident]`: roles, incident types and their checklists, private viewers, archiving.

use super::*;

/// The shortest `[incident] archive_after`.
pub const MIN_ARCHIVE_AFTER: Duration = Duration::from_secs(3600);

/// Most steps a checklist may have: each is a message block and a click target; more is a
/// document, better linked as a runbook.
pub const MAX_CHECKLIST_STEPS: usize = 100;

/// Longest step text, in characters (a Block Kit section holds 3000 after escaping).
pub const MAX_STEP_CHARS: usize = 500;

/// `[incident]`: how incidents are run.
#[derive(Debug, Clone)]
pub struct IncidentConfig {
    /// `[incident] roles`: the roles `/incident role` hands out besides the lead, in the
    /// order the header and the catch-up list them.
    pub roles: Vec<String>,
    /// `[incident] archive_after`: how long after its resolve an incident's channel is
    /// archived (announced a day before, with a Keep open button); `None` (`"off"`, the
    /// default) never archives.
    pub archive_after: Option<Duration>,
    /// `[incident] private_viewers`: besides a private incident's channel members, the
    /// people shown its details on surfaces outside its channel (managers' DMs, App Home,
    /// `/incident list`); everyone else sees only the redacted line (`domain::privacy`).
    pub private_viewers: Vec<UserId>,
    /// `[[incident.types]]`: kinds of incident (`/incident declare … type:<name>`, an alarm
    /// route's `type`), each with its severity, people, roles to fill and checklist.
    pub types: Vec<IncidentType>,
}

impl IncidentConfig {
    /// The type called `name`, if configured.
    pub fn incident_type(&self, name: &str) -> Option<&IncidentType> {
        self.types.iter().find(|t| t.name == name)
    }
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            roles: crate::domain::roles::DEFAULT_ROLES
                .iter()
                .map(|r| r.to_string())
                .collect(),
            archive_after: None,
            private_viewers: Vec::new(),
            types: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIncident {
    pub(super) roles: Option<Vec<String>>,
    pub(super) archive_after: Option<String>,
    #[serde(default)]
    pub(super) private_viewers: Vec<String>,
    #[serde(default)]
    pub(super) types: Vec<RawIncidentType>,
}

/// `[[incident.types]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIncidentType {
    pub(super) name: Option<String>,
    pub(super) severity: Option<String>,
    pub(super) private: Option<bool>,
    #[serde(default)]
    pub(super) responders: Vec<String>,
    pub(super) usergroup: Option<String>,
    #[serde(default)]
    pub(super) roles: Vec<String>,
    #[serde(default)]
    pub(super) checklist: Vec<RawStep>,
    pub(super) postmortem_template: Option<String>,
}

/// One `checklist` entry: `{ text = "…", runbook = "https://…" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) text: Option<String>,
    pub(super) runbook: Option<String>,
}

/// `[[incident.types]]`, checked against the roles and the postmortem template directory.
pub(super) fn incident_types(
    raw: Vec<RawIncidentType>,
    roles: &[String],
    template_dir: Option<&Path>,
) -> Result<Vec<IncidentType>, ConfigError> {
    let mut types: Vec<IncidentType> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let key = format!("[[incident.types]] #{}", i + 1);
        let name = match t.name.as_deref().map(str::trim) {
            None | Some("") => return Err(invalid(&format!("{key} name"), "is missing")),
            Some(n) => n.to_string(),
        };
        let max = crate::domain::command::MAX_TYPE_CHARS;
        let name_ok = name.chars().count() <= max
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(invalid(
                &format!("{key} name"),
                format!("{name:?} is not a type name: use 1 to {max} lowercase letters, digits and dashes"),
            ));
        }
        let key = format!("[[incident.types]] \"{name}\"");
        if types.iter().any(|x| x.name == name) {
            return Err(invalid(&format!("{key} name"), "is used twice"));
        }
        let severity = match t.severity {
            None => crate::domain::Severity::DEFAULT,
            Some(s) => s
                .parse()
                .map_err(|e: String| invalid(&format!("{key} severity"), e))?,
        };
        let responders = parse_users(&format!("{key} responders"), &t.responders)?;
        if let Some(g) = &t.usergroup {
            check_usergroup(&format!("{key} usergroup"), g)?;
        }
        for (j, role) in t.roles.iter().enumerate() {
            if !roles.iter().any(|r| r == role) {
                return Err(invalid(
                    &format!("{key} roles[{j}]"),
                    format!(
                        "{role:?} is not one of [incident] roles ({})",
                        roles.join(", ")
                    ),
                ));
            }
        }
        if t.checklist.len() > MAX_CHECKLIST_STEPS {
            return Err(invalid(
                &format!("{key} checklist"),
                format!(
                    "has {} steps, at most {MAX_CHECKLIST_STEPS}",
                    t.checklist.len()
                ),
            ));
        }
        let mut checklist = Vec::new();
        for (j, step) in t.checklist.into_iter().enumerate() {
            let step_key = format!("{key} checklist[{j}]");
            let text = step
                .text
                .as_deref()
                .map(str::trim)
                .unwrap_or("")
                .to_string();
            if text.is_empty() {
                return Err(invalid(&format!("{step_key} text"), "is missing or empty"));
            }
            if text.chars().count() > MAX_STEP_CHARS {
                return Err(invalid(
                    &format!("{step_key} text"),
                    format!("is longer than {MAX_STEP_CHARS} characters: link a runbook instead"),
                ));
            }
            if let Some(url) = &step.runbook {
                check_link(&format!("{step_key} runbook"), url)?;
            }
            checklist.push(Step {
                text,
                runbook: step.runbook,
            });
        }
        if let Some(file) = &t.postmortem_template {
            check_type_template(&format!("{key} postmortem_template"), file, template_dir)?;
        }
        types.push(IncidentType {
            name,
            severity,
            private: t.private.unwrap_or(false),
            responders,
            usergroup: t.usergroup,
            roles: t.roles,
            checklist,
            postmortem_template: t.postmortem_template,
        });
    }
    Ok(types)
}

/// A type's `postmortem_template`: a Markdown template (`*.md.tera`) shipped with warroom or
/// in `[postmortem] template_dir`.
pub(super) fn check_type_template(
    key: &str,
    file: &str,
    dir: Option<&Path>,
) -> Result<(), ConfigError> {
    let plain = !file.is_empty()
        && file.ends_with(".md.tera")
        && !file.contains(['/', '\\'])
        && !file.starts_with('.');
    if !plain {
        return Err(invalid(
            key,
            format!("{file:?} must be a Markdown template's file name (like security.md.tera), without a directory"),
        ));
    }
    let shipped = super::templates::SHIPPED
        .iter()
        .any(|(name, _)| *name == file);
    let in_dir = dir.is_some_and(|d| d.join(file).is_file());
    if shipped || in_dir {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "{file:?} is neither shipped with warroom nor in [postmortem] template_dir{}",
                dir.map(|d| format!(" ({})", d.display()))
                    .unwrap_or_default()
            ),
        ))
    }
}

/// A link shown in Slack as `<url|…>`: http(s) only, nothing that could break out of it.
pub(super) fn check_link(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(url).map_err(|e| invalid(key, format!("\"{url}\" is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.contains(['<', '>', '|', ' ']) {
        return Err(invalid(
            key,
            format!("\"{url}\" must be an http(s) URL without spaces, <, > or |"),
        ));
    }
    if url.len() > 1000 {
        return Err(invalid(key, "is longer than 1000 characters"));
    }
    Ok(())
}

/// `[incident] archive_after`: `"off"` (the default) or a duration of at least an hour.
pub(super) fn archive_after(raw: Option<String>) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "[incident] archive_after";
    match raw.as_deref().map(str::trim) {
        None => Ok(None),
        Some(off) if off.eq_ignore_ascii_case("off") => Ok(None),
        Some(_) => {
            let after = duration(KEY, raw, Duration::ZERO)?;
            at_least(KEY, after, MIN_ARCHIVE_AFTER)?;
            Ok(Some(after))
        }
    }
}

/// `[incident] roles`: lowercase names of letters, digits and dashes, no duplicates, not
/// `lead` (the lead has its own command).
pub(super) fn incident_config(
    raw: RawIncident,
    template_dir: Option<&Path>,
) -> Result<IncidentConfig, ConfigError> {
    let archive_after = archive_after(raw.archive_after)?;
    let private_viewers = parse_users("[incident] private_viewers", &raw.private_viewers)?;
    let Some(roles) = raw.roles else {
        let roles = IncidentConfig::default().roles;
        return Ok(IncidentConfig {
            archive_after,
            private_viewers,
            types: incident_types(raw.types, &roles, template_dir)?,
            roles,
        });
    };
    let key = "[incident] roles";
    let mut seen = std::collections::HashSet::new();
    for role in &roles {
        let ok = !role.is_empty()
            && role.chars().count() <= crate::domain::command::MAX_ROLE_CHARS
            && role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(invalid(
                key,
                format!(
                    "{role:?} is not a role name: use 1 to {} lowercase letters, digits and dashes",
                    crate::domain::command::MAX_ROLE_CHARS
                ),
            ));
        }
        if role == "lead" {
            return Err(invalid(
                key,
                "\"lead\" is not needed: the lead is always there (/incident lead)",
            ));
        }
        if !seen.insert(role.as_str()) {
            return Err(invalid(key, format!("{role:?} is listed twice")));
        }
    }
    Ok(IncidentConfig {
        types: incident_types(raw.types, &roles, template_dir)?,
        roles,
        archive_after,
        private_viewers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_viewers_are_user_ids() {
        assert!(Config::parse("")
            .unwrap()
            .incident
            .private_viewers
            .is_empty());
        let c = Config::parse("[incident]\nprivate_viewers = [\"U0CISO\", \"U0VP\"]")
            .unwrap()
            .incident;
        assert_eq!(
            c.private_viewers,
            [
                UserId::parse("U0CISO").unwrap(),
                UserId::parse("U0VP").unwrap()
            ]
        );
        let err = Config::parse("[incident]\nprivate_viewers = [\"@ciso\"]").unwrap_err();
        assert!(
            err.to_string().contains("[incident] private_viewers[0]"),
            "{err}"
        );
    }

    #[test]
    fn archive_after_is_off_by_default_and_at_least_an_hour() {
        assert_eq!(Config::parse("").unwrap().incident.archive_after, None);
        let parse = |v: &str| Config::parse(&format!("[incident]\narchive_after = \"{v}\""));
        assert_eq!(parse("off").unwrap().incident.archive_after, None);
        assert_eq!(
            parse("7d").unwrap().incident.archive_after,
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse("1h").unwrap().incident.archive_after,
            Some(Duration::from_secs(3600))
        );
        for bad in ["30m", "soon", "0s"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("[incident] archive_after"), "{bad}: {err}");
        }
        assert!(parse("30m")
            .unwrap_err()
            .to_string()
            .contains("at least 1h"));
    }

    #[test]
    fn incident_types_parse_and_are_checked() {
        let c = Config::parse(
            r#"
            [incident]
            roles = ["comms", "scribe"]
            [[incident.types]]
            name = "security"
            severity = "sev1"
            private = true
            responders = ["U0SEC"]
            usergroup = "S0SECTEAM"
            roles = ["comms"]
            postmortem_template = "security.md.tera"
            checklist = [
                { text = "Page the security team" },
                { text = "Rotate keys", runbook = "https://wiki.example/rotate" },
            ]
            [[incident.types]]
            name = "db"
            [alarms]
            [[alarms.route]]
            name = "sec"
            alarm_name = "guardduty-*"
            type = "security"
            [[alarms.route]]
            name = "db"
            alarm_name = "rds-*"
            severity = "sev2"
            type = "db"
            "#,
        )
        .unwrap();
        let t = c.incident.incident_type("security").unwrap();
        assert_eq!(t.severity, Severity::Sev1);
        assert!(t.private);
        assert_eq!(t.responders[0].as_str(), "U0SEC");
        assert_eq!(t.usergroup.as_deref(), Some("S0SECTEAM"));
        assert_eq!(t.roles, ["comms"]);
        assert_eq!(t.checklist.len(), 2);
        assert_eq!(
            t.checklist[1].runbook.as_deref(),
            Some("https://wiki.example/rotate")
        );
        let db = c.incident.incident_type("db").unwrap();
        assert_eq!(db.severity, Severity::DEFAULT);
        assert!(!db.private && db.checklist.is_empty());
        let routes = &c.alarms.routes.routes;
        // A route without its own severity takes its type's.
        assert_eq!(routes[0].incident_type.as_deref(), Some("security"));
        assert_eq!(routes[0].severity, Severity::Sev1);
        assert_eq!(routes[1].severity, Severity::Sev2);

        let one = |body: &str| format!("[[incident.types]]\nname = \"sec\"\n{body}");
        for (bad, key) in [
            ("[[incident.types]]\nseverity = \"sev1\"".to_string(), "[[incident.types]] #1 name"),
            ("[[incident.types]]\nname = \"Sec\"".to_string(), "[[incident.types]] #1 name"),
            (format!("{}\n{}", one(""), one("")), "[[incident.types]] \"sec\" name"),
            (one("severity = \"sev9\""), "[[incident.types]] \"sec\" severity"),
            (one("responders = [\"bob\"]"), "[[incident.types]] \"sec\" responders[0]"),
            (one("usergroup = \"sec-team\""), "[[incident.types]] \"sec\" usergroup"),
            (one("roles = [\"janitor\"]"), "[[incident.types]] \"sec\" roles[0]"),
            (one("checklist = [{ text = \"  \" }]"), "[[incident.types]] \"sec\" checklist[0] text"),
            (one("checklist = [{ runbook = \"https://x.example\" }]"), "[[incident.types]] \"sec\" checklist[0] text"),
            (
                one("checklist = [{ text = \"a\", runbook = \"javascript:alert(1)\" }]"),
                "[[incident.types]] \"sec\" checklist[0] runbook",
            ),
            (
                one("checklist = [{ text = \"a\", runbook = \"ftp://x.example/a\" }]"),
                "[[incident.types]] \"sec\" checklist[0] runbook",
            ),
            (one("postmortem_template = \"nope.md.tera\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("postmortem_template = \"../etc/passwd\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("postmortem_template = \"postmortem.html.tera\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("colour = \"red\""), "unknown field"),
            (
                "[alarms]\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\ntype = \"nope\"".to_string(),
                "[[alarms.route]] \"a\" type",
            ),
            (
                format!("{}\n[alarms]\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\ntype = \"nope\"", one("")),
                "(sec)",
            ),
        ] {
            let err = Config::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
        // A template in the configured directory is found there.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.md.tera"), "# {{ title }}").unwrap();
        let with_dir = format!(
            "[postmortem]\ntemplate_dir = {:?}\n{}",
            dir.path().display().to_string(),
            one("postmortem_template = \"db.md.tera\"")
        );
        Config::parse(&with_dir).unwrap();
    }

    #[test]
    fn roles_default_and_are_checked() {
        let c = Config::parse("").unwrap().incident;
        assert_eq!(c.roles, ["comms", "scribe", "ops", "aws-liaison"]);
        let c = Config::parse("[incident]\nroles = [\"comms\", \"db-1\"]")
            .unwrap()
            .incident;
        assert_eq!(c.roles, ["comms", "db-1"]);
        for bad in [
            "roles = [\"Comms\"]",
            "roles = [\"\"]",
            "roles = [\"a b\"]",
            "roles = [\"lead\"]",
            "roles = [\"ops\", \"ops\"]",
        ] {
            let err = Config::parse(&format!("[incident]\n{bad}")).unwrap_err();
            assert!(err.to_string().contains("[incident] roles"), "{bad}: {err}");
        }
    }
}
