//! Ready to deploy: the Slack app manifest matches what the code needs, backups restore,
//! SIGTERM stops the real binary without losing acked events, and logs carry no secrets.

#[allow(dead_code)]
#[path = "bot/helpers.rs"]
mod helpers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use helpers::{
    wait_timeline, wait_until_ok, wait_until_ok_every, Aws, CpuAlarm, Seen, World, ALICE, BOB,
    CAROL, DEADLINE,
};
use serde_yaml::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use warroom::slack::manifest::{self, Token};
use warroom::slack_emulator::{EmulatorConfig, EnvelopeKind, Fault};
use warroom::store::Store;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn manifest_yaml() -> Value {
    let text = std::fs::read_to_string(repo_file("deploy/slack-app-manifest.yaml"))
        .expect("deploy/slack-app-manifest.yaml exists");
    serde_yaml::from_str(&text).expect("the manifest is valid YAML")
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

// --- the Slack app manifest ---------------------------------------------------------------

#[test]
fn the_manifest_grants_exactly_the_scopes_and_events_the_code_needs() {
    let m = manifest_yaml();
    let granted = strings(&m["oauth_config"]["scopes"]["bot"]);
    let mut problems = Vec::new();
    for method in manifest::METHODS {
        if let (Token::Bot, Some(scope)) = (method.token, method.scope) {
            if !granted.contains(scope) {
                problems.push(format!(
                    "method {} needs scope {scope}, missing from the manifest",
                    method.name
                ));
            }
        }
    }
    let subscribed = strings(&m["settings"]["event_subscriptions"]["bot_events"]);
    for event in manifest::EVENTS {
        if !subscribed.contains(event.subscription) {
            problems.push(format!(
                "event {} is handled but not subscribed",
                event.subscription
            ));
        }
        if let Some(scope) = event.scope {
            if !granted.contains(scope) {
                problems.push(format!(
                    "event {} needs scope {scope}, missing from the manifest",
                    event.subscription
                ));
            }
        }
    }
    let required: BTreeSet<String> = manifest::bot_scopes().into_iter().collect();
    for scope in granted.difference(&required) {
        problems.push(format!("scope {scope} is granted but nothing needs it"));
    }
    let handled: BTreeSet<&str> = manifest::EVENTS.iter().map(|e| e.subscription).collect();
    for event in &subscribed {
        if !handled.contains(event.as_str()) {
            problems.push(format!(
                "event {event} is subscribed but nothing handles it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "deploy/slack-app-manifest.yaml and src/slack/manifest.rs disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_manifest_turns_on_socket_mode_the_command_and_interactivity() {
    let m = manifest_yaml();
    assert_eq!(m["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    assert_eq!(
        m["settings"]["interactivity"]["is_enabled"].as_bool(),
        Some(true)
    );
    let commands = m["features"]["slash_commands"]
        .as_sequence()
        .expect("slash_commands");
    let incident = commands
        .iter()
        .find(|c| c["command"].as_str() == Some(manifest::SLASH_COMMAND))
        .expect("the /incident command");
    // Slack then sends mentions as <@U…>, which the command grammar expects.
    assert_eq!(incident["should_escape"].as_bool(), Some(true));
    if manifest::method("views.publish").is_some() {
        assert_eq!(
            m["features"]["app_home"]["home_tab_enabled"].as_bool(),
            Some(true),
            "views.publish needs the Home tab"
        );
    }
}

/// `call!(self, "method", …)` in every file of the Slack adapter: each must be listed.
#[test]
fn every_method_called_in_the_source_is_listed() {
    let mut unlisted = Vec::new();
    let mut found = 0;
    for entry in std::fs::read_dir(repo_file("src/slack")).expect("src/slack") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (i, _) in text.match_indices("call!(") {
            let rest = &text[i..];
            let Some(start) = rest.find('"') else {
                continue;
            };
            let Some(len) = rest[start + 1..].find('"') else {
                continue;
            };
            let method = &rest[start + 1..start + 1 + len];
            if !method.contains('.') {
                continue; // the macro's own definition
            }
            found += 1;
            if manifest::method(method).is_none() {
                unlisted.push(format!("{method} (in {})", path.display()));
            }
        }
    }
    assert!(found >= 5, "the scan found only {found} calls");
    assert!(
        unlisted.is_empty(),
        "add these to src/slack/manifest.rs METHODS with their scope:\n{}",
        unlisted.join("\n")
    );
}

// --- the IAM policy -----------------------------------------------------------------------

/// PascalCase operation name from the SDK's snake_case fluent method (`describe_alarms`).
fn operation_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `cloudwatch:DescribeAlarms` for every SDK call in src/aws (test fakes excluded): a client
/// expression on one line, `.operation()` starting the next.
fn aws_calls_in_source() -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for (file, service) in [
        ("src/aws/cloudwatch.rs", "cloudwatch"),
        ("src/aws/cloudtrail.rs", "cloudtrail"),
        ("src/aws/health.rs", "health"),
        ("src/aws/support.rs", "support"),
        ("src/aws/sqs.rs", "sqs"),
    ] {
        let text = std::fs::read_to_string(repo_file(file)).expect("readable source");
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            let (prev, line) = (pair[0].trim(), pair[1].trim());
            let is_client =
                prev.ends_with("client") || prev.ends_with("client()") || prev.ends_with(".health");
            if let (true, Some(rest)) = (is_client, line.strip_prefix('.')) {
                if let Some(op) = rest.strip_suffix("()") {
                    if op.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        let mut action = operation_name(op);
                        // IAM authorizes SQS's batch calls with the single call's action.
                        if service == "sqs" {
                            if let Some(single) = action.strip_suffix("Batch") {
                                action = single.to_string();
                            }
                        }
                        calls.insert(format!("{service}:{action}"));
                    }
                }
            }
        }
    }
    // `[[aws.accounts]]`: the roles are assumed by the SDK's STS provider, not a call of
    // warroom's own.
    let adapter = std::fs::read_to_string(repo_file("src/aws/mod.rs")).expect("readable source");
    if adapter.contains("sts::AssumeRoleProvider::builder(") {
        calls.insert("sts:AssumeRole".to_string());
    }
    calls
}

#[test]
fn the_iam_policy_grants_exactly_the_aws_actions_the_code_calls() {
    let text = std::fs::read_to_string(repo_file("deploy/iam-policy.json"))
        .expect("deploy/iam-policy.json");
    let policy: serde_json::Value = serde_json::from_str(&text).expect("the policy is valid JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let mut granted = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(
            statement["Effect"], "Allow",
            "least privilege: allow statements only"
        );
        for action in statement["Action"].as_array().expect("an Action list") {
            let action = action.as_str().expect("action names are strings");
            assert!(!action.contains('*'), "no wildcard actions: {action}");
            if action == "sts:AssumeRole" {
                let resource = statement["Resource"].as_str().unwrap_or("*");
                assert!(
                    resource.starts_with("arn:aws:iam::") && resource.contains(":role/"),
                    "sts:AssumeRole only on the listed roles, not {resource}"
                );
            }
            assert!(granted.insert(action.to_string()), "{action} granted twice");
        }
    }
    let listed: BTreeSet<String> = warroom::aws::IAM_ACTIONS
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        granted, listed,
        "deploy/iam-policy.json and warroom::aws::IAM_ACTIONS differ"
    );
    let called = aws_calls_in_source();
    assert!(called.len() >= 3, "the scan found only {called:?}");
    let unlisted: Vec<_> = called.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "called but not in IAM_ACTIONS: {unlisted:?}"
    );
    let unused: Vec<_> = listed.difference(&called).collect();
    assert!(
        unused.is_empty(),
        "in IAM_ACTIONS but never called: {unused:?}"
    );
}

/// The event types `translate_event` acts on: each must have a subscription.
#[test]
fn every_event_type_the_bot_acts_on_is_subscribed() {
    let text = std::fs::read_to_string(repo_file("src/slack/socket/translate.rs"))
        .expect("src/slack/socket/translate.rs");
    let start = text
        .find("pub fn translate_event")
        .expect("translate_event in socket/translate.rs");
    let body = &text[start..];
    let end = body.find("\n}\n").unwrap_or(body.len());
    let kinds: Vec<&str> = body[..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('"')?;
            let (kind, tail) = rest.split_once('"')?;
            tail.trim_start().starts_with("=>").then_some(kind)
        })
        .collect();
    assert!(kinds.contains(&"message"), "scan found {kinds:?}");
    for kind in kinds {
        let subscribed = manifest::EVENTS
            .iter()
            .any(|e| e.subscription == kind || e.subscription.starts_with(&format!("{kind}.")));
        assert!(
            subscribed,
            "translate_event acts on {kind:?} but src/slack/manifest.rs EVENTS has no subscription for it"
        );
    }
}

/// The list is honest: a whole incident calls nothing that is not listed, and never hits a
/// scope the emulator (granting exactly the manifest's scopes) refuses.
#[tokio::test]
async fn a_scripted_incident_calls_only_listed_methods_with_the_granted_scopes() {
    let world = World::new().await;
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Checkout API 5xx sev2").await;
    let first = world
        .emu
        .post_message(ALICE, &channel, "CPU 98% on the checkout ASG", None)
        .unwrap();
    world
        .emu
        .post_message(BOB, &channel, "DB connections at max", Some(&first))
        .unwrap();
    world
        .emu
        .add_reaction(BOB, &channel, &first, "pushpin")
        .unwrap();
    world.emu.pin_message(BOB, &channel, &first).unwrap();
    world
        .emu
        .edit_message(ALICE, &channel, &first, "CPU 98% on the checkout ASG (UTC)")
        .unwrap();
    for command in [
        "status identified pool exhaustion",
        "sev 1",
        "lead <@U0BOB>",
        "note rolled back",
        "timeline",
        "resolve back to baseline",
    ] {
        world.command(ALICE, &channel, command).await;
    }
    world.command(ALICE, &world.ops, "list").await;
    world.wait_header(&channel, &["resolved"]).await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the edit and the pin", |e| {
        e.iter()
            .any(|e| e.key_event && e.slack_ts.as_deref() == Some(first.as_str()))
    })
    .await;
    app.stop().await.unwrap();

    let calls = world.emu.api_calls();
    assert!(calls.len() >= 8, "{calls:#?}");
    let unlisted: BTreeSet<&str> = calls
        .iter()
        .map(|c| c.method.as_str())
        .filter(|m| manifest::method(m).is_none())
        .collect();
    assert!(
        unlisted.is_empty(),
        "called but not in src/slack/manifest.rs: {unlisted:?}"
    );
    let refused: Vec<_> = calls
        .iter()
        .filter(|c| c.error.as_deref() == Some("missing_scope"))
        .collect();
    assert!(refused.is_empty(), "missing scopes: {refused:#?}");
}

// --- the real binary ---------------------------------------------------------------------

/// The `warroom` binary run against the emulator, its stderr captured.
struct Bot {
    child: tokio::process::Child,
    stderr: Arc<Mutex<String>>,
    /// Copies stderr into `stderr` until the process closes it.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Bot {
    /// `warroom <args…>` with the world's config; `env` adds or overrides variables.
    async fn start(world: &World, args: &[&str], env: &[(&str, &str)]) -> Bot {
        Self::start_with(world, args, env, "").await
    }

    /// [`Bot::start`] with `extra` TOML sections in the config file.
    async fn start_with(world: &World, args: &[&str], env: &[(&str, &str)], extra: &str) -> Bot {
        let config = write_config(world);
        if !extra.is_empty() {
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str(extra);
            std::fs::write(&config, text).unwrap();
        }
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
        cmd.args(args)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("warroom starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Bot {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_log(&self, needle: &str) {
        wait_until_ok(
            DEADLINE,
            &format!("the log to show {needle:?}"),
            async || {
                let logs = self.logs();
                if logs.contains(needle) {
                    Ok(())
                } else {
                    Err(Seen(logs))
                }
            },
        )
        .await
    }

    /// Wait for the process to end on its own, and for the last of its logs.
    async fn exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait works"),
            Err(_) => panic!("warroom did not exit within {within:?}:\n{}", self.logs()),
        };
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(DEADLINE, reader).await;
        }
        status
    }
}

fn write_config(world: &World) -> PathBuf {
    let path = world.dir.path().join("warroom.toml");
    let text = format!(
        "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\", \"{CAROL}\"]\nproactive_rate_limits = false\nsocket_connections = 1\n[database]\nurl = \"{}\"\n",
        world.emu.api_url(),
        world.db_url
    );
    std::fs::write(&path, text).expect("config written");
    path
}

async fn backup(world: &World, out: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["backup", "--config"])
        .arg(write_config(world))
        .arg("--out")
        .arg(out)
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom backup runs")
}

async fn open(path: &Path) -> Store {
    Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("the copy opens")
}

#[tokio::test]
async fn a_backup_of_the_live_database_restores_to_the_same_incidents_and_timeline() {
    let world = World::new().await;
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Checkout API 5xx sev2").await;
    let mut last = String::new();
    for i in 0..10 {
        last = world
            .emu
            .post_message(BOB, &channel, &format!("update {i}"), None)
            .unwrap();
    }
    world
        .command(BOB, &channel, "status monitoring rolled back")
        .await;
    world.wait_header(&channel, &["monitoring"]).await;
    let live = world.store().await;
    wait_timeline(&live, &channel, "the last update", |e| {
        e.iter()
            .any(|e| e.slack_ts.as_deref() == Some(last.as_str()))
    })
    .await;

    // While the bot runs (connected, database open in WAL mode).
    let out = world.dir.path().join("backup.db");
    let done = backup(&world, &out).await;
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let again = backup(&world, &out).await;
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );

    // Restore as the docs say: the copy in the database's place, no WAL files beside it.
    let restored_path = world.dir.path().join("restored").join("warroom.db");
    std::fs::create_dir_all(restored_path.parent().unwrap()).unwrap();
    std::fs::copy(&out, &restored_path).unwrap();
    let restored = open(&restored_path).await;
    assert_eq!(restored.integrity_check().await.unwrap(), Ok(()));
    let incidents = warroom::store::incidents::list(live.db(), false)
        .await
        .unwrap();
    assert_eq!(
        warroom::store::incidents::list(restored.db(), false)
            .await
            .unwrap(),
        incidents
    );
    for record in &incidents {
        let id = record.incident.id;
        let timeline = warroom::store::timeline::of_incident(live.db(), id)
            .await
            .unwrap();
        assert!(timeline.len() >= 12, "{timeline:#?}");
        assert_eq!(
            warroom::store::timeline::of_incident(restored.db(), id)
                .await
                .unwrap(),
            timeline
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_backup_taken_mid_burst_is_consistent() {
    let world = World::new().await;
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "burst").await;
    for i in 0..150 {
        world
            .emu
            .post_message(BOB, &channel, &format!("burst {i}"), None)
            .unwrap();
    }
    let out = world.dir.path().join("mid-burst.db");
    let done = backup(&world, &out).await;
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let copy = open(&out).await;
    assert_eq!(copy.integrity_check().await.unwrap(), Ok(()));
    let live = world.store().await;
    let incident = helpers::incident_in(&live, &channel).await;
    let copied = warroom::store::timeline::of_incident(copy.db(), incident.incident.id)
        .await
        .unwrap();
    let now = wait_timeline(&live, &channel, "the whole burst", |e| {
        e.iter().filter(|e| e.text.starts_with("burst ")).count() == 150
    })
    .await;
    // The copy is the database at one moment: a prefix of what the bot recorded.
    assert!(copied.len() <= now.len());
    assert_eq!(copied[..], now[..copied.len()]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sigterm_mid_burst_loses_no_acked_event() {
    let world = World::new().await;
    let mut bot = Bot::start(&world, &[], &[]).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot connects");
    let channel = world.declare(ALICE, "SIGTERM mid-burst").await;
    // People keep posting until the bot has exited, so the signal lands mid-burst however
    // quickly the bot acks.
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let posting = tokio::spawn({
        let (emu, channel, sent, stop) = (
            world.emu.clone(),
            channel.clone(),
            sent.clone(),
            stop.clone(),
        );
        async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && i < 50_000 {
                let ts = emu
                    .post_message(BOB, &channel, &format!("burst {i}"), None)
                    .unwrap();
                sent.lock().unwrap().push(ts);
                i += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    });
    let acked_messages = |world: &World| -> Vec<String> {
        let sent: BTreeSet<String> = sent.lock().unwrap().iter().cloned().collect();
        world
            .emu
            .envelopes()
            .into_iter()
            .filter(|e| e.kind == EnvelopeKind::EventsApi && e.acked_at.is_some())
            .filter_map(|e| e.payload["event"]["ts"].as_str().map(String::from))
            .filter(|ts| sent.contains(ts))
            .collect()
    };
    // Looked at often: the signal is meant to come mid-burst.
    wait_until_ok_every(DEADLINE, Duration::from_millis(5), "20 acks", async || {
        match acked_messages(&world).len() {
            n if n >= 20 => Ok(()),
            n => Err(n),
        }
    })
    .await;
    bot.signal("TERM");
    let status = bot.exit(Duration::from_secs(30)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    posting.await.unwrap();
    assert!(status.success(), "{status:?}\n{}", bot.logs());
    // People were still posting when the signal came (they stop only once the bot is gone).
    let acked: BTreeSet<String> = acked_messages(&world).into_iter().collect();

    // Restart: every acked message must end up on the timeline (the unacked ones Slack
    // redelivers; they may or may not be there yet).
    let mut again = Bot::start(&world, &[], &[]).await;
    again.wait_log("Socket Mode connected").await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "every acked message", |e| {
        let recorded: BTreeSet<&str> = e.iter().filter_map(|e| e.slack_ts.as_deref()).collect();
        acked.iter().all(|ts| recorded.contains(ts.as_str()))
    })
    .await;
    again.signal("TERM");
    assert!(again.exit(Duration::from_secs(30)).await.success());
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let world = World::new().await;
    // slack-morphism's debug line shows when the call below has been sent.
    let mut bot = Bot::start(&world, &[], &[("RUST_LOG", "info,slack_morphism=debug")]).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot connects");
    // The worker gets stuck on a slow Slack call, so a graceful stop would wait for it
    // (up to 20 s).
    world.emu.inject_fault(
        "conversations.create",
        Fault::Delay(Duration::from_secs(60)),
        1,
    );
    world.command(ALICE, &world.ops, "declare slow slack").await;
    bot.wait_log("conversations.create").await;
    bot.signal("TERM");
    bot.wait_log("stopping gracefully").await;
    bot.signal("TERM");
    let status = bot.exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(143), "{}", bot.logs());
    assert!(bot.logs().contains("second signal: exiting at once"));
}

// --- secrets in logs ---------------------------------------------------------------------

const BOT_TOKEN: &str = "xoxb-2417950611-7342810274465-Qx3vJk9ZsT1aNw4Lm8RbYc2D";
const APP_TOKEN: &str = "xapp-1-A07Q2K3LJ5T-7342810274466-3f9c0a7e5b1d4c2e8a6f0b9d7c5e3a1f";
const AWS_KEY_ID: &str = "AKIAQX4Z7NR3EXAMPLE7";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

fn assert_no_secrets(logs: &str) {
    assert_none_of(logs, &[BOT_TOKEN, APP_TOKEN, AWS_KEY_ID, AWS_SECRET]);
}

fn assert_none_of(logs: &str, secrets: &[&str]) {
    for secret in secrets.iter().copied() {
        if let Some(line) = logs.lines().find(|l| l.contains(secret)) {
            panic!("a secret is in the logs: {secret}, in {line}");
        }
        // Nor a recognisable piece of one (e.g. a token cut short in an error message).
        let tail = &secret[secret.len() - 16..];
        assert!(
            !logs.contains(tail),
            "part of a secret is in the logs: {tail}"
        );
    }
}

/// An alarm in moto (behind the AWS fake) for the bot to find, in ALARM.
async fn fire_alarm(aws: &Aws, name: &str) {
    CpuAlarm::new(name).period(60).put(&aws.cw).await;
    aws.set_state(name, StateValue::Alarm, "Threshold Crossed")
        .await;
}

/// The real binary at `RUST_LOG=debug`, in both log formats, with real credentials in
/// use: the Slack tokens, and AWS keys the SDK's default chain resolves from the
/// environment to sign an alarm poll and a Support case (moto behind the AWS fake). The
/// logs carry none of them, nor the Socket Mode connection tickets or the `response_url`s
/// Slack handed the bot (each works like a password for a while).
#[tokio::test]
async fn debug_logs_of_a_full_run_carry_no_secrets() {
    let aws = Aws::start().await;
    let fake = &aws.fake;
    let world = World::with_config(EmulatorConfig {
        bot_token: BOT_TOKEN.into(),
        app_token: APP_TOKEN.into(),
        scopes: warroom::demo::bot_scopes(),
        ..EmulatorConfig::default()
    })
    .await;
    let env = [
        ("RUST_LOG", "debug"),
        ("AWS_ACCESS_KEY_ID", AWS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
    ];
    let aws_config = format!(
        "[aws]\nendpoint_url = \"{}\"\n[alarms]\npoll_interval = \"200ms\"\ncorrelation_window = \"1ms\"\n[escalation]\nsupport_api = true\n",
        fake.endpoint_url()
    );
    for format in ["json", "human"] {
        let mut bot = Bot::start_with(&world, &["--log-format", format], &env, &aws_config).await;
        world
            .emu
            .wait_for_connections(1, DEADLINE)
            .await
            .expect("bot connects");
        let channel = world
            .declare(ALICE, &format!("log check {format} sev2"))
            .await;
        let ts = world
            .emu
            .post_message(BOB, &channel, "xoxb-looking text typed by a person", None)
            .unwrap();
        world.command(BOB, &channel, "resolve done").await;
        world.wait_header(&channel, &["resolved"]).await;
        let store = world.store().await;
        wait_timeline(&store, &channel, "the message", |e| {
            e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
        })
        .await;

        // A poll signed with the keys opens a war room; a case is opened through moto.
        let alarm = format!("cpu-high-{format}");
        let calls = fake.call_count("DescribeAlarms");
        fire_alarm(&aws, &alarm).await;
        let war_room = world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .find(|c| c.name.contains(&alarm))
                    .map(|c| c.id.clone())
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the alarm's war room ({format}): {e}\n{}",
                    bot.logs()
                        .lines()
                        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
        assert!(
            fake.call_count("DescribeAlarms") > calls,
            "the bot polled AWS"
        );
        world.emu.join_channel(&war_room, BOB);
        world.wait_header(&war_room, &[&alarm]).await;
        assert_eq!(world.command(BOB, &war_room, "escalate aws").await, None);
        let bot_user = world.emu.config().bot_user_id.clone();
        world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.messages
                    .get(&war_room)?
                    .iter()
                    .find(|m| m.user == bot_user && m.text.contains("opened AWS Support case"))?;
                Some(())
            })
            .await
            .expect("the case opens through moto");
        store.close().await;
        bot.signal("TERM");
        assert!(bot.exit(Duration::from_secs(30)).await.success());
        world
            .emu
            .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
            .await
            .expect("the connection closes with the process");
        let logs = bot.logs();
        let debug_marker = if format == "json" {
            "\"level\":\"DEBUG\""
        } else {
            "DEBUG"
        };
        assert!(
            logs.contains(debug_marker) && logs.lines().count() > 50,
            "debug logs were not captured ({format}):\n{logs}"
        );
        assert_no_secrets(&logs);
        let handed_out = world.emu.handed_out_secrets();
        assert!(
            handed_out.iter().any(|s| s.contains("/response/"))
                && handed_out.iter().any(|s| !s.contains("/response/")),
            "tickets and response_urls were handed out: {handed_out:?}"
        );
        let handed_out: Vec<&str> = handed_out.iter().map(String::as_str).collect();
        assert_none_of(&logs, &handed_out);
    }

    // A token Slack refuses: the error names the variable, not the value.
    let wrong = "xoxb-2417950611-7342810274465-ZZZZZZZZZZZZZZZZZZZZZZZZ";
    let mut refused = Bot::start(&world, &[], &[("SLACK_BOT_TOKEN", wrong), env[0]]).await;
    let status = refused.exit(Duration::from_secs(30)).await;
    assert!(!status.success());
    let logs = refused.logs();
    assert!(
        logs.contains("SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"),
        "{logs}"
    );
    assert!(!logs.contains(wrong), "{logs}");
    assert!(!logs.contains("ZZZZZZZZZZZZZZZZ"), "{logs}");
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The Kubernetes manifests run two replicas on PostgreSQL, in different zones, with a
/// disruption budget that keeps one running, and the config they mount is a valid warroom
/// config without a password; every file they list exists.
#[test]
fn the_kubernetes_manifests_run_two_replicas_on_postgres_across_zones() {
    let kustomization = yaml("deploy/kubernetes/kustomization.yaml");
    for file in kustomization["resources"].as_sequence().expect("resources") {
        let file = file.as_str().expect("a file name");
        assert!(
            repo_file(&format!("deploy/kubernetes/{file}")).exists(),
            "{file}"
        );
    }
    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(2));
    let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"];
    let keys: Vec<&str> = spread
        .as_sequence()
        .expect("spread constraints")
        .iter()
        .filter_map(|c| c["topologyKey"].as_str())
        .collect();
    assert!(keys.contains(&"topology.kubernetes.io/zone"), "{keys:?}");
    let pdb = yaml("deploy/kubernetes/pdb.yaml");
    assert_eq!(pdb["kind"].as_str(), Some("PodDisruptionBudget"));
    assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(1));
    let selector = &pdb["spec"]["selector"]["matchLabels"];
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(selector, labels, "the budget covers the pods");
    let configmap = yaml("deploy/kubernetes/configmap.yaml");
    let toml = configmap["data"]["warroom.toml"]
        .as_str()
        .expect("warroom.toml");
    let config = warroom::config::Config::parse(toml).expect("a valid config");
    assert!(
        config.database.url.starts_with("postgres://"),
        "{}",
        config.database.url
    );
    let secret = yaml("deploy/kubernetes/secret.yaml");
    assert!(secret["stringData"]["PGPASSWORD"].is_string());
    // The single-replica SQLite variant is complete too.
    let single = yaml("deploy/kubernetes/single-sqlite/kustomization.yaml");
    for file in single["resources"].as_sequence().expect("resources") {
        let file = file.as_str().expect("a file name");
        assert!(
            repo_file(&format!("deploy/kubernetes/single-sqlite/{file}")).exists(),
            "{file}"
        );
    }
    let single = yaml("deploy/kubernetes/single-sqlite/deployment.yaml");
    assert_eq!(single["spec"]["replicas"].as_u64(), Some(1));
    assert_eq!(
        single["spec"]["strategy"]["type"].as_str(),
        Some("Recreate")
    );
}

/// The compose file starts PostgreSQL and two replicas with a valid config.
#[test]
fn the_compose_file_starts_postgres_and_two_replicas() {
    let compose = yaml("deploy/compose.yaml");
    let services = compose["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(names, ["db", "warroom-a", "warroom-b"]);
    let toml = compose["configs"]["warroom_toml"]["content"]
        .as_str()
        .expect("the config");
    let config = warroom::config::Config::parse(toml).expect("a valid config");
    assert!(config.database.url.starts_with("postgres://"));
}

/// The Socket Mode URL holds a one-use ticket that opens a connection for whoever has it.
/// Asked for every trace the client and the WebSocket library can give, through a
/// connection, a refresh (a second URL) and a shutdown, the logs name the host, never the
/// URL.
#[tokio::test]
async fn socket_mode_tickets_never_reach_the_logs_even_at_trace() {
    let world = World::new().await;
    let levels = "debug,warroom=trace,tungstenite=trace,tokio_tungstenite=trace,\
                  tungstenite::handshake::client=trace";
    let mut bot = Bot::start(&world, &["--log-format", "json"], &[("RUST_LOG", levels)]).await;
    bot.wait_log("Socket Mode connected").await;
    world.emu.request_refresh();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let replaced = ws.socket_connections.len() >= 2 && ws.live_connections >= 1;
            replaced.then_some(())
        })
        .await
        .expect("the connection is replaced");
    let channel = world.declare(ALICE, "ticket check").await;
    world.command(BOB, &channel, "resolve done").await;
    world.wait_header(&channel, &["resolved"]).await;
    bot.signal("TERM");
    assert!(bot.exit(Duration::from_secs(30)).await.success());
    let logs = bot.logs();
    let opens = world
        .emu
        .api_calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count();
    assert!(opens >= 2, "two tickets were handed out, not {opens}");
    assert!(
        logs.matches("Socket Mode connected").count() >= 2
            && logs.contains(r#""host":"127.0.0.1""#)
            && logs.contains(r#""level":"TRACE""#),
        "the connections were logged, with their host, at trace:\n{logs}"
    );
    for leak in ["ticket=", "/link/?", "GET /link"] {
        assert!(!logs.contains(leak), "{leak:?} is in the logs:\n{logs}");
    }
}

// --- deploy/aws: the CloudFormation templates -----------------------------------------------

fn template(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The resources of `t` of CloudFormation type `kind`, by logical id.
fn resources<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().expect("logical ids are strings"), r))
        .collect()
}

/// Whether `warroom::domain::events::parse` acts on events of this source and detail-type
/// (anything but `Unknown`; a known kind with an empty detail is an error, not Unknown).
fn bot_acts_on(source: &str, detail_type: &str) -> bool {
    let body = serde_json::json!({
        "version": "0", "id": "1", "detail-type": detail_type, "source": source,
        "account": "111111111111", "time": "2026-12-03T10:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    !matches!(
        warroom::domain::events::parse(&body.to_string()),
        Ok(warroom::domain::events::QueueEvent::Unknown { .. })
    )
}

/// Every (source, detail-type) an EventBridge pattern matches.
fn pattern_pairs(pattern: &Value) -> BTreeSet<(String, String)> {
    let sources = strings(&pattern["source"]);
    let types = strings(&pattern["detail-type"]);
    let mut out = BTreeSet::new();
    for s in &sources {
        for t in &types {
            out.insert((s.clone(), t.clone()));
        }
    }
    out
}

const EVENT_KINDS: [(&str, &str); 3] = [
    ("aws.cloudwatch", "CloudWatch Alarm State Change"),
    ("aws.health", "AWS Health Event"),
    ("aws.support", "Support Case Update"),
];

#[test]
fn the_events_queue_template_routes_exactly_the_events_the_bot_parses() {
    assert!(!bot_acts_on(
        "aws.ec2",
        "EC2 Instance State-change Notification"
    ));
    let t = template("deploy/aws/events-queue.yaml");
    let rules = resources(&t, "AWS::Events::Rule");
    assert_eq!(rules.len(), 3, "one rule per event kind");
    let mut matched = BTreeSet::new();
    for (id, rule) in &rules {
        let p = &rule["Properties"];
        let pairs = pattern_pairs(&p["EventPattern"]);
        assert_eq!(pairs.len(), 1, "{id}: one source and detail-type");
        for (s, d) in &pairs {
            assert!(bot_acts_on(s, d), "{id}: the bot ignores {s} / {d}");
        }
        matched.extend(pairs);
        let target = &p["Targets"][0]["Arn"]["Fn::GetAtt"];
        assert_eq!(
            strings(target),
            BTreeSet::from(["Queue".into(), "Arn".into()]),
            "{id} targets the queue"
        );
    }
    let expected: BTreeSet<(String, String)> = EVENT_KINDS
        .iter()
        .map(|(s, d)| (s.to_string(), d.to_string()))
        .collect();
    assert_eq!(matched, expected);

    // The queue has a dead-letter queue; EventBridge may send, from these rules only.
    let queue = &t["Resources"]["Queue"]["Properties"];
    assert_eq!(
        strings(&queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]),
        BTreeSet::from(["DeadLetterQueue".into(), "Arn".into()])
    );
    let (_, policy) = resources(&t, "AWS::SQS::QueuePolicy")[0];
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(
        s["Principal"]["Service"].as_str(),
        Some("events.amazonaws.com")
    );
    assert_eq!(s["Action"].as_str(), Some("sqs:SendMessage"));
    let sources: BTreeSet<String> = s["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_sequence()
        .expect("source ARNs")
        .iter()
        .map(|a| a["Fn::GetAtt"][0].as_str().unwrap_or_default().to_string())
        .collect();
    let rule_ids: BTreeSet<String> = rules.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(sources, rule_ids, "only the rules may send");
    // The default name is the queue deploy/iam-policy.json lets warroom read.
    assert_eq!(
        t["Parameters"]["QueueName"]["Default"].as_str(),
        Some("warroom-events")
    );
}

#[test]
fn the_member_account_role_grants_the_read_calls_warroom_makes_there_and_forwards_its_events() {
    let t = template("deploy/aws/member-account.yaml");
    let role = &t["Resources"]["ReadRole"]["Properties"];
    let mut granted = BTreeSet::new();
    for s in role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
    {
        assert_eq!(s["Effect"].as_str(), Some("Allow"));
        granted.extend(strings(&s["Action"]));
    }
    let expected: BTreeSet<String> = warroom::aws::MEMBER_ACCOUNT_ACTIONS
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(granted, expected);
    for a in &expected {
        assert!(
            a.starts_with("cloudwatch:Describe")
                || a.starts_with("cloudwatch:List")
                || a.starts_with("cloudwatch:Get"),
            "read-only: {a}"
        );
        assert!(
            warroom::aws::IAM_ACTIONS.contains(&a.as_str()),
            "{a} is a call warroom makes"
        );
    }
    // Trust: warroom's account, with the ExternalId.
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Action"].as_str(), Some("sts:AssumeRole"));
    assert!(trust["Principal"]["AWS"]["Fn::Sub"]
        .as_str()
        .is_some_and(|p| p.contains("${WarroomAccountId}:root")));
    assert_eq!(
        trust["Condition"]["StringEquals"]["sts:ExternalId"]["Ref"].as_str(),
        Some("ExternalId")
    );
    // The role name deploy/iam-policy.json lets warroom assume.
    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("deploy/iam-policy.json")).expect("policy"),
    )
    .expect("JSON");
    let assume = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Action"][0] == "sts:AssumeRole")
        .expect("an sts:AssumeRole statement");
    let default_name = t["Parameters"]["RoleName"]["Default"]
        .as_str()
        .expect("a default");
    assert_eq!(
        assume["Resource"].as_str(),
        Some(format!("arn:aws:iam::*:role/{default_name}").as_str())
    );
    // The optional forwarding rule sends the three kinds the central rules pick up.
    let forward = &t["Resources"]["ForwardRule"];
    assert_eq!(forward["Condition"].as_str(), Some("Forward"));
    let pairs = pattern_pairs(&forward["Properties"]["EventPattern"]);
    for (s, d) in EVENT_KINDS {
        assert!(
            pairs.contains(&(s.to_string(), d.to_string())),
            "forwards {s} / {d}"
        );
    }
    // Pairs are crossed by EventBridge (any source with any detail-type); all are ones the
    // bot parses or AWS never emits, and the central rules take only the exact three.
    let forward_role = &t["Resources"]["ForwardRole"]["Properties"];
    assert_eq!(
        forward_role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"].as_str(),
        Some("events:PutEvents")
    );
}
