//! Tests of the whole file: parsing, defaults, errors that name the key.

use super::*;

#[test]
fn empty_file_gives_defaults() {
    let c = Config::parse("").unwrap();
    assert_eq!(c.slack.api_url, "https://slack.com/api/");
    assert_eq!(c.escalation.aws_support_after, Duration::from_secs(1800));
    assert_eq!(c.database.url, "sqlite://warroom.db");
}

#[test]
fn full_contract_parses() {
    let c = Config::parse(
        r#"
        [slack]
        api_url = "https://slack-gov.com/api/"
        responders = ["U024BE7LH", "W012A3CDE"]
        incident_leads = "S0INCLEADS"
        managers = ["U0MANAGER"]
        status_channel = "C0STATUS"
        [aws]
        region = "eu-west-1"
        endpoint_url = "http://127.0.0.1:5000"
        [database]
        url = "sqlite:///var/lib/warroom/warroom.db"
        [alarms]
        poll_interval = "45s"
        [escalation]
        aws_support_after = "20m"
        renudge_every = "10m"
        [summary]
        every = "2h"
        "#,
    )
    .unwrap();
    assert_eq!(c.slack.responders.len(), 2);
    assert_eq!(c.slack.incident_leads.as_deref(), Some("S0INCLEADS"));
    assert_eq!(c.slack.status_channel.as_deref(), Some("C0STATUS"));
    assert_eq!(c.aws.region, "eu-west-1");
    assert_eq!(c.alarms.poll_interval, Duration::from_secs(45));
    assert_eq!(c.summary.every, Some(Duration::from_secs(7200)));
}

#[test]
fn events_read_the_queue_and_may_switch_alarm_polling_off() {
    let c = Config::parse(
        "[alarms]\npoll_interval = \"off\"\n[events]\n\
         sqs_queue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/warroom-events\"\n\
         wait = \"5s\"\nbatch = 4\nhealth_opens_incident = true\n\
         [[alarms.route]]\nname = \"aws\"\nsource = \"health\"\nseverity = \"sev1\"",
    )
    .unwrap();
    let e = c.events.unwrap();
    assert_eq!(e.region, "eu-west-1");
    assert_eq!(e.wait, Duration::from_secs(5));
    assert_eq!(e.batch, 4);
    assert!(e.health_opens_incident);
    assert!(c.alarms.enabled && !c.alarms.polling);
    assert_eq!(c.alarms.routes.health_route().name, "aws");
    assert_eq!(
        c.alarms.routes.health_route().severity,
        crate::domain::Severity::Sev1
    );
    // Defaults; a host other than SQS's own takes [aws] region.
    let c = Config::parse(
        "[aws]\nregion = \"ap-south-1\"\n[events]\n\
         sqs_queue_url = \"https://vpce-1.sqs.example.internal/123456789012/q\"",
    )
    .unwrap();
    let e = c.events.unwrap();
    assert_eq!(
        (e.region.as_str(), e.wait, e.batch),
        ("ap-south-1", Duration::from_secs(20), 10)
    );
    assert!(c.alarms.polling);
    assert!(Config::parse("").unwrap().events.is_none());
}

#[test]
fn accounts_take_a_role_an_external_id_and_the_alarm_regions_by_default() {
    let c = Config::parse(
        "[aws]\nregion = \"eu-west-1\"\n[alarms]\nregions = [\"eu-west-1\", \"us-east-1\"]\n\
         [[aws.accounts]]\nname = \"payments\"\n\
         role_arn = \"arn:aws:iam::111111111111:role/warroom-read\"\nexternal_id = \"wr-7f3a\"\n\
         [[aws.accounts]]\nname = \"legacy\"\n\
         role_arn = \"arn:aws-us-gov:iam::222222222222:role/ops/warroom-read\"\n\
         regions = [\"us-west-2\"]",
    )
    .unwrap();
    let a = &c.aws.accounts;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].name, "payments");
    assert_eq!(a[0].account_id, "111111111111");
    assert_eq!(a[0].external_id.as_deref(), Some("wr-7f3a"));
    assert_eq!(a[0].regions, ["eu-west-1", "us-east-1"]);
    assert_eq!(a[1].account_id, "222222222222");
    assert_eq!(a[1].external_id, None);
    assert_eq!(a[1].regions, ["us-west-2"]);
    assert!(Config::parse("").unwrap().aws.accounts.is_empty());
    assert!(
        !format!("{c:?}").contains("wr-7f3a"),
        "the external id is not shown"
    );
}

#[test]
fn account_errors_name_the_key() {
    let role = "role_arn = \"arn:aws:iam::111111111111:role/r\"";
    let cases = [
        format!("[[aws.accounts]]\n{role}"),
        "[[aws.accounts]]\nname = \"a\"".to_string(),
        format!("[[aws.accounts]]\nname = \"Payments\"\n{role}"),
        "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::1111:role/r\"".to_string(),
        "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::111111111111:user/r\"".to_string(),
        "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:sts::111111111111:role/r\"".to_string(),
        format!("[[aws.accounts]]\nname = \"a\"\n{role}\nexternal_id = \"x\""),
        format!("[[aws.accounts]]\nname = \"a\"\n{role}\nregions = []"),
        format!("[[aws.accounts]]\nname = \"a\"\n{role}\nregions = [\"US\"]"),
        format!("[[aws.accounts]]\nname = \"a\"\n{role}\n[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::222222222222:role/r\""),
        format!("[[aws.accounts]]\nname = \"a\"\n{role}\n[[aws.accounts]]\nname = \"b\"\n{role}"),
    ];
    for text in cases {
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("[[aws.accounts]]"), "{text:?} gave {err:?}");
    }
}

#[test]
fn events_errors_name_the_key() {
    let q = "https://sqs.us-east-1.amazonaws.com/123456789012/warroom-events";
    let cases = [
        (
            "[alarms]\npoll_interval = \"off\"".to_string(),
            "[alarms] poll_interval",
        ),
        (
            "[events]\nwait = \"5s\"".to_string(),
            "[events] sqs_queue_url",
        ),
        (
            "[events]\nsqs_queue_url = \"sqs\"".to_string(),
            "[events] sqs_queue_url",
        ),
        (
            "[events]\nsqs_queue_url = \"http://sqs.us-east-1.amazonaws.com/123456789012/q\""
                .to_string(),
            "[events] sqs_queue_url",
        ),
        (
            "[events]\nsqs_queue_url = \"https://sqs.us-east-1.amazonaws.com/1234/q\"".to_string(),
            "[events] sqs_queue_url",
        ),
        (
            "[events]\nsqs_queue_url = \"https://sqs.us-east-1.amazonaws.com/123456789012/q?x=1\""
                .to_string(),
            "[events] sqs_queue_url",
        ),
        (
            format!("[events]\nsqs_queue_url = \"{q}\"\nwait = \"21s\""),
            "[events] wait",
        ),
        (
            format!("[events]\nsqs_queue_url = \"{q}\"\nbatch = 11"),
            "[events] batch",
        ),
        (
            format!("[events]\nsqs_queue_url = \"{q}\"\nbatch = 0"),
            "[events] batch",
        ),
        (
            "[[alarms.route]]\nname = \"h\"\nsource = \"sns\"".to_string(),
            "[[alarms.route]] \"h\" source",
        ),
        (
            "[[alarms.route]]\nname = \"h\"\nsource = \"health\"\nnamespace = \"AWS/EC2\""
                .to_string(),
            "[[alarms.route]] \"h\" source",
        ),
    ];
    for (text, key) in cases {
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{text:?} gave {err:?}");
    }
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (
            "[escalation]\nrenudge_every = \"soon\"",
            "[escalation] renudge_every",
        ),
        ("[slack]\nresponders = [\"alice\"]", "[slack] responders[0]"),
        (
            "[slack]\nincident_leads = \"@incident-leads\"",
            "[slack] incident_leads",
        ),
        (
            "[slack]\napi_url = \"https://slack.com/api\"",
            "[slack] api_url",
        ),
        (
            "[slack]\nstatus_channel = \"#status\"",
            "[slack] status_channel",
        ),
        ("[database]\nurl = \"mysql://x\"", "[database] url"),
        (
            "[database]\nurl = \"postgres://warroom:hunter2@db/warroom\"",
            "[database] url",
        ),
        (
            "[database]\nfailover_after = \"1s\"",
            "[database] failover_after",
        ),
        ("[summary]\nevery = \"0s\"", "[summary] every"),
        ("[summary]\nat = [\"9am\"]", "[summary] at[0]"),
        (
            "[summary]\ntimezone = \"Mars/Olympus\"",
            "[summary] timezone",
        ),
        ("[aws]\nregion = \"US East\"", "[aws] region"),
        ("[server]\nlisten = \"localhost:9090\"", "[server] listen"),
        ("[server]\nlisten = \"127.0.0.1\"", "[server] listen"),
    ];
    for (text, key) in cases {
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text:?} gave {err:?}");
    }
}

#[test]
fn the_slack_api_is_reached_over_https_except_on_this_machine() {
    for url in [
        "http://slack.com/api/",
        "http://10.0.0.5/api/",
        "http://127.0.0.1.evil.example/api/",
        "http://[2001:db8::1]/api/",
    ] {
        let err = Config::parse(&format!("[slack]\napi_url = \"{url}\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[slack] api_url") && err.contains("must be https://"),
            "{url}: {err}"
        );
    }
    for url in [
        "https://slack.com/api/",
        "http://127.0.0.1:3000/api/",
        "http://127.5.0.1/api/",
        "http://localhost:8080/api/",
        "http://[::1]:9000/api/",
    ] {
        let c = Config::parse(&format!("[slack]\napi_url = \"{url}\"")).unwrap();
        assert_eq!(c.slack.api_url, url);
    }
}

#[test]
fn raw_events_are_kept_a_week_unless_said_otherwise() {
    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(
        Config::parse("").unwrap().database.keep_raw_events,
        Some(week)
    );
    let c = Config::parse("[database]\nkeep_raw_events = \"30d\"").unwrap();
    assert_eq!(
        c.database.keep_raw_events,
        Some(Duration::from_secs(30 * 24 * 3600))
    );
    let c = Config::parse("[database]\nkeep_raw_events = \"forever\"").unwrap();
    assert_eq!(c.database.keep_raw_events, None);
    for bad in ["10m", "soon", "0s"] {
        let err = Config::parse(&format!("[database]\nkeep_raw_events = \"{bad}\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[database] keep_raw_events"), "{bad}: {err}");
    }
}

#[test]
fn unknown_keys_are_rejected() {
    let err = Config::parse("[slack]\nresponder = [\"U1\"]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("responder"), "{err}");
}

#[test]
fn a_postgres_url_comes_from_the_file_without_its_password_or_whole_from_the_environment() {
    let mut c = Config::parse(
        "[database]\nurl = \"postgres://warroom@db.internal:5432/warroom\"\nfailover_after = \"20s\"",
    )
    .unwrap();
    assert_eq!(c.database.failover_after, Duration::from_secs(20));
    let err = Config::parse("[database]\nurl = \"postgres://warroom:hunter2@db/warroom\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PGPASSWORD") && !err.contains("hunter2"),
        "{err}"
    );
    let env = |var: &str| {
        (var == DATABASE_URL_VAR)
            .then(|| "postgres://warroom:hunter2@db2.internal/warroom".to_string())
    };
    c.apply_env_from(env).unwrap();
    assert_eq!(
        c.database.url,
        "postgres://warroom:hunter2@db2.internal/warroom"
    );
    let shown = format!("{:?} {}", c.database, c.database.shown_url());
    assert!(
        !shown.contains("hunter2") && shown.contains("db2.internal"),
        "{shown}"
    );
    let bad = c
        .apply_env_from(|_| Some("mysql://x".to_string()))
        .unwrap_err()
        .to_string();
    assert!(bad.contains(DATABASE_URL_VAR), "{bad}");
    assert_eq!(
        Config::default().database.failover_after,
        Duration::from_secs(15)
    );
}

#[test]
fn secrets_never_show_in_debug() {
    let s = Secrets::new("xapp-1-secret".into(), "xoxb-secret".into()).unwrap();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("secret"));
    assert!(Secrets::new("xoxb-wrong".into(), "xoxb-ok".into()).is_err());
}
