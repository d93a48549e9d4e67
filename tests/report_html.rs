//! The managers' report as an HTML page, checked as a page: well formed (every element
//! closed, in order), self-contained (no scripts, nothing fetched: no `src`, no external
//! `href`, no `url(`/`@import` in the style), its figures shown as text and as inline SVG
//! bars, and hostile names shown as text with the page's structure unchanged.

use chrono::{DateTime, Duration, TimeZone, Utc};
use warroom::domain::report::{
    compute, CaseFacts, IncidentFacts, OpenActionItem, Period, ReportFacts,
};
use warroom::domain::support::SupportSeverity;
use warroom::domain::{IncidentId, Severity, UserId};
use warroom::report::managers::{html, markdown};

fn t(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap()
}

/// Two incidents, one with an AWS case; `route` names the first one's route.
fn report(route: &str) -> warroom::domain::report::Report {
    let facts = ReportFacts {
        period: Period {
            since: t(2, 0, 0),
            until: t(23, 0, 0),
        },
        incidents: vec![
            IncidentFacts {
                id: IncidentId(7),
                severity: Severity::Sev1,
                opened_at: t(10, 9, 0),
                declared_at: t(10, 9, 3),
                route: Some(route.to_string()),
                aws_service: Some("RDS".to_string()),
                first_alarm_at: Some(t(10, 9, 0)),
                first_response_at: Some(t(10, 9, 8)),
                cases: vec![CaseFacts {
                    severity: SupportSeverity::Urgent,
                    opened_at: t(10, 9, 20),
                    first_aws_reply_at: Some(t(10, 9, 45)),
                }],
                mitigated_at: Some(t(10, 10, 0)),
                resolved_at: Some(t(10, 11, 0)),
                postmortem_drafted: true,
            },
            IncidentFacts {
                id: IncidentId(8),
                severity: Severity::Sev3,
                opened_at: t(17, 14, 0),
                declared_at: t(17, 14, 0),
                route: None,
                aws_service: None,
                first_alarm_at: None,
                first_response_at: Some(t(17, 14, 2)),
                cases: Vec::new(),
                mitigated_at: None,
                resolved_at: Some(t(17, 15, 30)),
                postmortem_drafted: false,
            },
        ],
        open_action_items: vec![OpenActionItem {
            incident: IncidentId(7),
            number: 1,
            owner: Some(UserId::parse("U0CAROL").unwrap()),
            created_at: t(10, 10, 30),
        }],
        drills: 3,
    };
    compute(&facts, |s| match s {
        SupportSeverity::Urgent => Duration::hours(1),
        _ => Duration::hours(4),
    })
}

/// HTML elements that have no end tag.
const VOID: [&str; 4] = ["meta", "br", "hr", "img"];

/// The page's tags in order (`<name …>`, `</name>`, `<name …/>`), comments and the
/// doctype left out; attribute values blanked so text inside them cannot pass for a tag.
fn tags(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + len + 1];
        rest = &rest[start + len + 1..];
        if tag.starts_with("<!") {
            continue;
        }
        let mut shape = String::new();
        let mut quoted = false;
        for c in tag.chars() {
            if c == '"' {
                quoted = !quoted;
                shape.push(c);
            } else if !quoted {
                shape.push(c.to_ascii_lowercase());
            }
        }
        out.push(shape);
    }
    out
}

fn name(tag: &str) -> String {
    tag.trim_start_matches("</")
        .trim_start_matches('<')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Every element closed, in the order it was opened.
fn assert_well_formed(page: &str) {
    let mut open: Vec<String> = Vec::new();
    for tag in tags(page) {
        let n = name(&tag);
        if tag.starts_with("</") {
            let top = open.pop();
            assert_eq!(top.as_deref(), Some(n.as_str()), "{tag} closes {top:?}");
        } else if !tag.ends_with("/>") && !VOID.contains(&n.as_str()) {
            open.push(n);
        }
    }
    assert!(open.is_empty(), "never closed: {open:?}");
}

#[test]
fn the_report_page_is_one_well_formed_self_contained_page_with_its_figures() {
    let page = html(&report("checkout"), t(23, 9, 0)).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_well_formed(&page);
    let lower = page.to_ascii_lowercase();
    for fetched in [
        "<script", "<link", "<iframe", "<img", " src=", "@import", "url(", "http://", "https://",
    ] {
        // The SVG namespace is an identifier, not something fetched.
        let found = lower
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
            .contains(fetched);
        assert!(!found, "{fetched:?} on the page");
    }
    // The figures, as text.
    for text in [
        "<strong id=\"incidents\">2</strong>",
        "<strong id=\"resolved\">2</strong>",
        "<strong id=\"without-postmortem\">1</strong>",
        "<strong id=\"open-actions\">1</strong>",
        "<strong id=\"drills\">3</strong>",
        // Detect 3m (one); engage 8m and 2m; resolve 2h 0m and 1h 30m.
        "<td>Time to detect (alarm → incident)</td><td class=\"num\">1</td><td class=\"num\">3m</td><td class=\"num\">3m</td>",
        "<td>Time to engage (→ first responder message)</td><td class=\"num\">2</td><td class=\"num\">2m</td><td class=\"num\">8m</td>",
        "<td>Time to resolve</td><td class=\"num\">2</td><td class=\"num\">1h 30m</td><td class=\"num\">2h 0m</td>",
        "<td>urgent</td><td class=\"num\">60</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td>",
        "Resolved without a postmortem draft: #8.",
        "<td>U0CAROL</td>",
    ] {
        assert!(page.contains(text), "{text:?} missing");
    }
    // Six charts of inline SVG, one bar per row: weeks 45 to 47 (the 2nd to the 22nd).
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 6);
    let weeks = page
        .split("<figure id=\"chart-weeks\">")
        .nth(1)
        .and_then(|s| s.split("</figure>").next())
        .unwrap();
    assert_eq!(weeks.matches("<rect ").count(), 3);
    assert!(weeks.contains("2026-W46 (from 2026-11-09)"), "{weeks}");
    // The longest bar fills the bar space; a week without incidents has none.
    assert!(weeks.contains("width=\"390\""), "{weeks}");
    assert!(weeks.contains("width=\"0\""), "{weeks}");
}

#[test]
fn hostile_names_are_shown_as_text_and_change_no_tag() {
    let benign = html(&report("checkout"), t(23, 9, 0)).unwrap();
    let hostile_name = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let hostile = html(&report(hostile_name), t(23, 9, 0)).unwrap();
    assert_eq!(tags(&hostile), tags(&benign));
    assert_well_formed(&hostile);
    assert!(!hostile.contains("<script>"));
    assert!(hostile.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    // Markdown too: the name cannot break the table.
    let md = markdown(&report("a | b"), t(23, 9, 0));
    assert!(md.contains("| a \\| b | 1 |"), "{md}");
}
