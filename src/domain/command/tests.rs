//! What every subcommand's table test shares (the row helpers and [`check`]), the table
//! of what no subcommand owns (unknown, empty, the limits), and the tests of the whole
//! grammar (usage lines, serde, what needs an incident).

use super::*;

pub(super) fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub(super) fn hm(h: u32, m: u32) -> Option<NaiveTime> {
    Some(NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

pub(super) fn declare(title: &str, severity: Option<Severity>) -> Command {
    Command::Declare {
        title: title.to_owned(),
        severity,
        private: false,
        incident_type: None,
    }
}

pub(super) fn declare_typed(title: &str, severity: Option<Severity>, t: &str) -> Command {
    Command::Declare {
        title: title.to_owned(),
        severity,
        private: false,
        incident_type: Some(t.to_owned()),
    }
}

pub(super) fn declare_private(title: &str, severity: Option<Severity>) -> Command {
    Command::Declare {
        title: title.to_owned(),
        severity,
        private: true,
        incident_type: None,
    }
}

pub(super) fn status(status: Status, note: Option<&str>) -> Command {
    Command::Status {
        status,
        note: note.map(str::to_owned),
    }
}

pub(super) fn note(at: Option<NaiveTime>, text: &str) -> Command {
    Command::Note {
        at,
        text: text.to_owned(),
    }
}

pub(super) fn action(text: &str, owner: Option<&str>) -> Command {
    Command::Action {
        text: text.to_owned(),
        owner: owner.map(user),
    }
}

pub(super) fn resolve(note: Option<&str>) -> Command {
    Command::Resolve {
        note: note.map(str::to_owned),
    }
}

pub(super) fn snooze(secs: i64) -> Command {
    Command::Snooze(chrono::Duration::seconds(secs))
}

pub(super) fn aws_reply(text: &str) -> Command {
    Command::AwsReply {
        text: text.to_owned(),
    }
}

pub(super) fn escalate(severity: Option<SupportSeverity>) -> Command {
    Command::EscalateAws { severity }
}

/// What a table row expects: the command, or an error whose `Display` contains every
/// listed substring.
pub(super) enum Expect {
    Ok(Command),
    Err(&'static [&'static str]),
}
pub(super) use Expect::{Err as E, Ok as K};

pub(super) fn drill(route: Option<&str>, severity: Option<Severity>, real_case: bool) -> Command {
    Command::Drill {
        route: route.map(str::to_owned),
        severity,
        real_case,
    }
}

/// Parse every row; fail with all the rows that did not give what they expect.
pub(super) fn check<S: AsRef<str>>(rows: Vec<(S, Expect)>) {
    let mut failures = Vec::new();
    for (input, expect) in rows {
        let input = input.as_ref();
        let got = parse(input);
        let shown: String = input.chars().take(60).collect();
        match (&expect, &got) {
            (K(want), Ok(cmd)) if want == cmd => {}
            (E(needles), Err(err)) => {
                let text = err.to_string();
                for needle in *needles {
                    if !text.contains(needle) {
                        failures.push(format!("{shown:?}: error {text:?} lacks {needle:?}"));
                    }
                }
                if err.problem.ends_with('.') {
                    failures.push(format!("{shown:?}: trailing period in {:?}", err.problem));
                }
                if err.problem.contains('\n') {
                    failures.push(format!("{shown:?}: multi-line problem {:?}", err.problem));
                }
            }
            (K(want), _) => failures.push(format!("{shown:?}: want {want:?}, got {got:?}")),
            (E(needles), Ok(cmd)) => {
                failures.push(format!("{shown:?}: want error {needles:?}, got {cmd:?}"))
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table() {
    let long_title = "x".repeat(MAX_TITLE_CHARS + 1);
    let max_title = "x".repeat(MAX_TITLE_CHARS);
    let long_text = "y".repeat(MAX_TEXT_CHARS + 1);
    let max_text = "y".repeat(MAX_TEXT_CHARS);
    check(vec![
        // unknown, empty
        (
            "frobnicate",
            E(&["unknown subcommand \"frobnicate\"", USAGE]),
        ),
        (
            "frobnicate the widgets",
            E(&["unknown subcommand \"frobnicate\"", USAGE]),
        ),
        ("declared DB down", E(&["unknown subcommand \"declared\""])),
        ("<!channel>", E(&["unknown subcommand \"<!channel>\""])),
        ("", E(&["subcommand is missing", USAGE])),
        ("   ", E(&["subcommand is missing", USAGE])),
        ("\t\n \r\n", E(&["subcommand is missing", USAGE])),
    ]);
    check(vec![
        // Limits.
        (format!("declare {max_title}"), K(declare(&max_title, None))),
        (
            format!("declare {max_title} sev1"),
            K(declare(&max_title, Some(Severity::Sev1))),
        ),
        (
            format!("declare {long_title}"),
            E(&[
                "title is too long (151 characters, at most 150)",
                "/incident note",
            ]),
        ),
        (
            format!("declare {long_title} sev1"),
            E(&["title is too long"]),
        ),
        (
            format!("declare {}", "x".repeat(3000)),
            E(&["title is too long (3000 characters"]),
        ),
        (
            format!("declare {}", "x".repeat(5000)),
            E(&["command is too long (5008 characters, at most 4000)"]),
        ),
        (
            format!("declare {}", "é".repeat(MAX_TITLE_CHARS)),
            K(declare(&"é".repeat(MAX_TITLE_CHARS), None)),
        ),
        (format!("note {max_text}"), K(note(None, &max_text))),
        (
            format!("note at 13:50 {max_text}"),
            K(note(hm(13, 50), &max_text)),
        ),
        (
            format!("note {long_text}"),
            E(&["note is too long (3001 characters, at most 3000)"]),
        ),
        (
            format!("note at 13:50 {long_text}"),
            E(&["note is too long"]),
        ),
        (
            format!("status identified {long_text}"),
            E(&["note is too long", "Usage: /incident status"]),
        ),
        (
            format!("action {long_text}"),
            E(&["action text is too long (3001 characters, at most 3000)"]),
        ),
        (format!("action {max_text}"), K(action(&max_text, None))),
        (
            format!("resolve {long_text}"),
            E(&["closing note is too long", "Usage: /incident resolve"]),
        ),
        (format!("aws reply {max_text}"), K(aws_reply(&max_text))),
        (
            format!("aws reply {long_text}"),
            E(&[
                "reply is too long (3001 characters, at most 3000)",
                "Usage: /incident aws reply",
            ]),
        ),
        (
            "note ".repeat(2048),
            E(&["command is too long (10240 characters", USAGE]),
        ),
        (
            format!("frobnicate {}", "z".repeat(10_000)),
            E(&["command is too long"]),
        ),
        (
            "z".repeat(100),
            E(&["unknown subcommand \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz…\""]),
        ),
    ]);
}

#[test]
fn usage_has_one_line_per_subcommand() {
    let lines: Vec<&str> = USAGE.lines().collect();
    let subcommands = [
        "declare",
        "status",
        "sev",
        "lead",
        "role",
        "note",
        "update",
        "snooze",
        "aws",
        "aws",
        "aws",
        "escalate",
        "changes",
        "timeline",
        "catchup",
        "resolve",
        "action",
        "action",
        "actions",
        "postmortem",
        "drill",
        "list",
        "stats",
        "help",
    ];
    assert_eq!(lines.len(), subcommands.len(), "{USAGE}");
    for (line, sub) in lines.iter().zip(subcommands) {
        assert!(line.starts_with(&format!("/incident {sub} ")), "{line}");
        assert!(line.contains(" — "), "{line}");
        assert!(!line.ends_with('.'), "{line}");
    }
    assert_eq!(
        lines[0],
        "/incident declare [--private] <title> [sev1-4] [type:<name>] — open an incident and its channel (severity defaults to SEV3, or the type's; --private: a private channel, shown elsewhere only as \"a private SEVn incident\")"
    );
    for status in Status::ALL {
        assert!(lines[1].contains(status.as_str()));
    }
    for usage in [
        DECLARE_USAGE,
        STATUS_USAGE,
        SEV_USAGE,
        LEAD_USAGE,
        ROLE_USAGE,
        CATCHUP_USAGE,
        NOTE_USAGE,
        UPDATE_USAGE,
        SNOOZE_USAGE,
        AWS_USAGE,
        AWS_STATUS_USAGE,
        AWS_REPLY_USAGE,
        ESCALATE_USAGE,
        TIMELINE_USAGE,
        RESOLVE_USAGE,
        ACTION_USAGE,
        ACTION_DONE_USAGE,
        ACTIONS_USAGE,
        POSTMORTEM_USAGE,
        LIST_USAGE,
        STATS_USAGE,
        HELP_USAGE,
    ] {
        assert!(lines.contains(&usage), "{usage}");
    }
    assert_eq!(
        AWS_ALL_USAGE.lines().collect::<Vec<_>>(),
        [AWS_USAGE, AWS_STATUS_USAGE, AWS_REPLY_USAGE]
    );
    for severity in SupportSeverity::ALL {
        assert!(ESCALATE_USAGE.contains(severity.code()), "{severity}");
    }
}

#[test]
fn every_subcommand_error_shows_its_own_usage_line() {
    let cases = [
        ("declare", DECLARE_USAGE),
        ("status", STATUS_USAGE),
        ("sev", SEV_USAGE),
        ("lead", LEAD_USAGE),
        ("role", ROLE_USAGE),
        ("role comms", ROLE_USAGE),
        ("catchup x", CATCHUP_USAGE),
        ("note", NOTE_USAGE),
        ("timeline x", TIMELINE_USAGE),
        (
            &format!("resolve {}", "r".repeat(MAX_TEXT_CHARS + 1)),
            RESOLVE_USAGE,
        ),
        ("list x", LIST_USAGE),
        ("stats x", STATS_USAGE),
        ("help x", HELP_USAGE),
        ("action", ACTION_USAGE),
        ("action done", ACTION_DONE_USAGE),
        ("actions x", ACTIONS_USAGE),
        ("postmortem x", POSTMORTEM_USAGE),
        ("update", UPDATE_USAGE),
        ("snooze", SNOOZE_USAGE),
        ("aws", AWS_ALL_USAGE),
        ("aws yes x", AWS_USAGE),
        ("aws status x", AWS_STATUS_USAGE),
        ("aws reply", AWS_REPLY_USAGE),
        ("escalate", ESCALATE_USAGE),
    ];
    for (input, usage) in cases {
        let err = parse(input).unwrap_err();
        assert_eq!(err.usage, usage, "{input}");
        assert!(!err.shows_full_usage());
        assert_eq!(err.to_string(), format!("{}\nUsage: {usage}", err.problem));
    }
}

#[test]
fn general_errors_show_the_full_usage() {
    for input in ["", "frobnicate", &"x".repeat(MAX_COMMAND_CHARS + 1)] {
        let err = parse(input).unwrap_err();
        assert!(err.shows_full_usage(), "{input}");
        assert_eq!(err.usage, USAGE);
        assert_eq!(err.to_string(), format!("{}\n{USAGE}", err.problem));
    }
    let err = parse("frobnicate").unwrap_err();
    assert_eq!(
        err.problem,
        "unknown subcommand \"frobnicate\"; these are the ones I know"
    );
}

#[test]
fn command_limit_is_checked_first_and_counts_chars() {
    // Exactly at the limit in chars (but far more bytes): not a length error.
    let title = "é".repeat(MAX_COMMAND_CHARS - "declare ".len());
    let err = parse(&format!("declare {title}")).unwrap_err();
    assert!(err.problem.contains("title is too long"), "{}", err.problem);
    // One more char: the command limit, before anything else is looked at.
    let err = parse(&format!("declare {title}é")).unwrap_err();
    assert!(
        err.problem.contains("command is too long"),
        "{}",
        err.problem
    );
}

#[test]
fn needs_incident_and_is_mutation() {
    let cases = [
        (declare("x", None), false, true),
        (status(Status::Identified, None), true, true),
        (Command::Sev(Severity::Sev1), true, true),
        (Command::Lead(user("U1")), true, true),
        (
            Command::Role {
                role: "comms".into(),
                user: user("U1"),
            },
            true,
            true,
        ),
        (Command::Catchup, true, false),
        (note(None, "x"), true, true),
        (Command::Timeline, true, false),
        (resolve(None), true, true),
        (Command::List, false, false),
        (Command::Stats { window: None }, false, false),
        (Command::Help, false, false),
        (action("x", None), true, true),
        (Command::ActionDone(1), true, true),
        (Command::Actions, true, false),
        (Command::Postmortem, true, true),
        (Command::Update { text: "x".into() }, true, true),
        (snooze(1800), true, true),
        (Command::AwsInvolved(true), true, true),
        (Command::AwsInvolved(false), true, true),
        (Command::AwsStatus, true, true),
        (aws_reply("x"), true, true),
        (escalate(None), true, true),
        (escalate(Some(SupportSeverity::High)), true, true),
    ];
    for (cmd, needs_incident, is_mutation) in cases {
        assert_eq!(cmd.needs_incident(), needs_incident, "{cmd:?}");
        assert_eq!(cmd.is_mutation(), is_mutation, "{cmd:?}");
    }
}

#[test]
fn commands_round_trip_through_serde() {
    for cmd in [
        declare("<!channel> DB down", Some(Severity::Sev1)),
        declare("x", None),
        status(Status::Monitoring, Some("ok")),
        Command::Sev(Severity::Sev2),
        Command::Lead(user("U123ABC")),
        Command::Role {
            role: "aws-liaison".into(),
            user: user("U123ABC"),
        },
        Command::Catchup,
        note(hm(13, 50), "saw errors"),
        Command::Timeline,
        resolve(None),
        Command::List,
        Command::Stats {
            window: Some(chrono::Duration::days(30)),
        },
        Command::Help,
        action("<!channel> add an alarm", Some("U0BOB")),
        action("x", None),
        Command::ActionDone(3),
        Command::Actions,
        Command::Postmortem,
        Command::Update {
            text: "<!channel> ok".into(),
        },
        snooze(90 * 60),
        Command::AwsInvolved(true),
        Command::AwsInvolved(false),
        Command::AwsStatus,
        aws_reply("<!channel> still down"),
        escalate(None),
        escalate(Some(SupportSeverity::Critical)),
    ] {
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(
            serde_json::from_str::<Command>(&json).unwrap(),
            cmd,
            "{json}"
        );
    }
}
