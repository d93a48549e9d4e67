//! Alarm routing: which rule (`[[alarms.route]]`) an alarm falls under, and so its severity,
//! extra responders, user group, runbook and whether it opens an incident at all.
//!
//! Rules are tried in the order written; the first whose every criterion matches wins. When
//! none does, the default route applies.

use super::alarm::Alarm;
use super::severity::Severity;
use super::timeline::UserId;

/// A shell-style pattern: `*` matches any run of characters, `?` any one character,
/// everything else itself (case-sensitive, like CloudWatch names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        let p: Vec<char> = self.0.chars().collect();
        let t: Vec<char> = text.chars().collect();
        // Iterative matching with one backtrack point: linear in practice, no recursion.
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

/// What a route matches on. Every criterion given must match; an empty matcher matches
/// nothing (only the default route applies to everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    pub alarm_name: Option<Glob>,
    pub namespace: Option<Glob>,
    /// Tag key (exact) → value pattern; all must be present and match.
    pub tags: Vec<(String, Glob)>,
}

impl Matcher {
    pub fn is_empty(&self) -> bool {
        self.alarm_name.is_none() && self.namespace.is_none() && self.tags.is_empty()
    }

    pub fn matches(&self, alarm: &Alarm) -> bool {
        if self.is_empty() {
            return false;
        }
        let name_ok = self
            .alarm_name
            .as_ref()
            .is_none_or(|g| g.matches(&alarm.name));
        let ns_ok = self
            .namespace
            .as_ref()
            .is_none_or(|g| alarm.namespace.as_deref().is_some_and(|ns| g.matches(ns)));
        let tags_ok = self
            .tags
            .iter()
            .all(|(key, value)| alarm.tags.iter().any(|(k, v)| k == key && value.matches(v)));
        name_ok && ns_ok && tags_ok
    }
}

/// Where an alarm goes and what it brings with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Shown in posts and used for correlation (alarms on one route share an incident).
    pub name: String,
    pub matcher: Matcher,
    pub severity: Severity,
    /// Invited to the incident channel on top of `[slack] responders`.
    pub responders: Vec<UserId>,
    /// A Slack user group id (`S0…`) whose members are invited too.
    pub usergroup: Option<String>,
    /// Linked in the first post.
    pub runbook: Option<String>,
    /// `false` for routes that should only be watched, not paged on.
    pub opens_incident: bool,
    /// `source = "health"`: the route of incidents an AWS Health event opens (`[events]
    /// health_opens_incident`); alarms never take it.
    pub for_health: bool,
    /// `type = "…"`: the `[[incident.types]]` its incidents are opened with.
    pub incident_type: Option<String>,
}

impl Route {
    /// The route used when nothing else matches: SEV3, opens an incident.
    pub fn default_route() -> Route {
        Route {
            name: "default".to_string(),
            matcher: Matcher::default(),
            severity: Severity::DEFAULT,
            responders: Vec::new(),
            usergroup: None,
            runbook: None,
            opens_incident: true,
            for_health: false,
            incident_type: None,
        }
    }
}

/// The configured routes, in order, and the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    pub routes: Vec<Route>,
    pub default: Route,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            routes: Vec::new(),
            default: Route::default_route(),
        }
    }
}

impl Routes {
    /// The first route whose matcher accepts `alarm`, else the default.
    pub fn route(&self, alarm: &Alarm) -> &Route {
        self.routes
            .iter()
            .find(|r| !r.for_health && r.matcher.matches(alarm))
            .unwrap_or(&self.default)
    }

    /// The route of an incident an AWS Health event opens: the first `source = "health"`
    /// route, else the default.
    pub fn health_route(&self) -> &Route {
        self.routes
            .iter()
            .find(|r| r.for_health)
            .unwrap_or(&self.default)
    }

    /// The route called `name` (the default included), for alarms recorded earlier.
    pub fn by_name(&self, name: &str) -> Option<&Route> {
        std::iter::once(&self.default)
            .chain(self.routes.iter())
            .find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alarm::tests::cpu_alarm;

    #[test]
    fn the_health_route_is_health_s_alone() {
        let health = Route {
            name: "aws-health".into(),
            for_health: true,
            // Even a matcher that would take the alarm does not, on a Health route.
            matcher: Matcher {
                alarm_name: Some(Glob::new("*")),
                ..Matcher::default()
            },
            ..Route::default_route()
        };
        let routes = Routes {
            routes: vec![health],
            default: Route::default_route(),
        };
        assert_eq!(routes.route(&cpu_alarm("web-cpu")).name, "default");
        assert_eq!(routes.health_route().name, "aws-health");
        assert_eq!(Routes::default().health_route().name, "default");
    }

    #[test]
    fn globs() {
        let cases = [
            ("prod-*", "prod-web-cpu", true),
            ("prod-*", "staging-web", false),
            ("*-cpu", "prod-web-cpu", true),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*web*cpu*", "prod-web-high-cpu-1", true),
            ("*web*cpu", "prod-web-high-cpu-1", false),
            ("AWS/EC2", "AWS/EC2", true),
            ("AWS/EC2", "aws/ec2", false),
            ("AWS/*ELB", "AWS/ApplicationELB", true),
            ("a*b*c*d", "aXbYcZd", true),
            ("a*b*c*d", "aXbYcZ", false),
            ("ünï*", "ünïcode", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                want,
                "{pattern} vs {text}"
            );
        }
    }

    fn route(name: &str, matcher: Matcher) -> Route {
        Route {
            name: name.into(),
            matcher,
            ..Route::default_route()
        }
    }

    #[test]
    fn first_matching_route_wins_else_default() {
        let routes = Routes {
            routes: vec![
                route(
                    "payments-db",
                    Matcher {
                        namespace: Some(Glob::new("AWS/RDS")),
                        tags: vec![("team".into(), Glob::new("payments"))],
                        ..Matcher::default()
                    },
                ),
                route(
                    "prod",
                    Matcher {
                        alarm_name: Some(Glob::new("prod-*")),
                        ..Matcher::default()
                    },
                ),
                route(
                    "ec2",
                    Matcher {
                        namespace: Some(Glob::new("AWS/EC2")),
                        ..Matcher::default()
                    },
                ),
                route("never", Matcher::default()),
            ],
            default: Route::default_route(),
        };
        let alarm = |name: &str, ns: Option<&str>, tags: &[(&str, &str)]| {
            let mut a = cpu_alarm(name);
            a.namespace = ns.map(str::to_string);
            a.tags = tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            a
        };
        let cases = [
            (
                alarm("db-conns", Some("AWS/RDS"), &[("team", "payments")]),
                "payments-db",
            ),
            // All criteria must hold: right namespace, wrong tag value.
            (
                alarm("db-conns", Some("AWS/RDS"), &[("team", "search")]),
                "default",
            ),
            (alarm("prod-db-conns", Some("AWS/RDS"), &[]), "prod"),
            // Order matters: prod-* comes before the EC2 rule.
            (alarm("prod-web-cpu", Some("AWS/EC2"), &[]), "prod"),
            (alarm("web-cpu", Some("AWS/EC2"), &[]), "ec2"),
            // Composite alarms have no namespace: a namespace rule never matches them.
            (alarm("web-cpu", None, &[]), "default"),
            (alarm("anything", Some("Custom/App"), &[]), "default"),
        ];
        for (a, want) in cases {
            assert_eq!(routes.route(&a).name, want, "{}", a.name);
        }
        assert_eq!(routes.by_name("ec2").map(|r| r.name.as_str()), Some("ec2"));
        assert_eq!(
            routes.by_name("default").map(|r| r.name.as_str()),
            Some("default")
        );
        assert!(routes.by_name("gone").is_none());
    }
}
