//! `warroom demo`: the real bot against the in-crate Slack emulator, playing a scripted
//! incident (an EC2 fleet saturated behind its load balancer, traced to RDS connection
//! exhaustion), then printing the channel as a transcript and the recorded timeline.
//!
//! The incident starts from a CloudWatch alarm: the load balancer's 5xx alarm goes to ALARM
//! in the in-process AWS fake ([`crate::aws::fake`], in-memory CloudWatch, Health and
//! Support, CloudTrail), and the bot's poller opens the war room on its own, saying what
//! changed before the alarm (the pool-size deploy, from CloudTrail). From there people take
//! over; half an hour in, warroom nudges them to open an AWS Support case, they open it
//! from the nudge's form, and AWS's reply appears in the channel.
//!
//! The bot runs on a hand-moved clock (as the emulator does), so the half hour passes in an
//! instant.
//!
//! Nothing is faked on warroom's side: the bot connects over Socket Mode, receives the slash
//! commands and messages as envelopes, acks them, calls the Web API over HTTP, and calls AWS
//! through the SDK (Smithy RPC v2 CBOR) like it would in production.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};

use crate::app::App;
use crate::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm, FakeTrailEvent};
use crate::aws::AwsAccess;
use crate::clock::{Clock, ManualClock};
use crate::config::{Config, Secrets};
use crate::domain::incident_type::{IncidentType, Step};
use crate::domain::routing::{Glob, Matcher, Route};
use crate::domain::Severity;
use crate::domain::UserId;
use crate::report;
use crate::slack::render::plain_text;
use crate::slack_emulator::{EmulatorConfig, SlackEmulator};

/// How long any one step of the script may take before the demo gives up.
const STEP_DEADLINE: Duration = Duration::from_secs(15);

/// The scopes the emulator grants: exactly the ones warroom's manifest asks for.
pub fn bot_scopes() -> Vec<String> {
    crate::slack::manifest::bot_scopes()
}

/// Config and secrets pointing a bot at `emu`, with the database at `db_url`.
pub fn config_for_emulator(
    emu: &SlackEmulator,
    db_url: &str,
    responders: &[&str],
) -> anyhow::Result<(Config, Secrets)> {
    let mut config = Config::default();
    config.slack.api_url = emu.api_url();
    config.slack.proactive_rate_limits = false;
    config.slack.socket_connections = 1;
    config.slack.responders = responders
        .iter()
        .map(|r| UserId::parse(r).map_err(|e| anyhow!("{r}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    config.database.url = db_url.to_string();
    let secrets = Secrets::new(
        emu.config().app_token.clone(),
        emu.config().bot_token.clone(),
    )?;
    Ok((config, secrets))
}

const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const CAROL: &str = "U0CAROL";

/// Run the demo; the database lives in a temp dir unless `db` is given.
pub async fn run(db: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("cannot create a temp dir")?;
    let db_path = db.unwrap_or_else(|| tmp.path().join("warroom-demo.db"));
    let db_url = format!("sqlite://{}", db_path.display());

    let emu = SlackEmulator::start(EmulatorConfig {
        scopes: bot_scopes(),
        ..EmulatorConfig::default()
    })
    .await?;
    emu.add_user(ALICE, "alice");
    emu.add_user(BOB, "bob");
    emu.add_user(CAROL, "carol");
    // Slack shows people by their names; warroom learns them from users.info.
    emu.set_user_names(ALICE, "Alice Chen", "Alice Chen");
    emu.set_user_names(BOB, "Bob Smith", "Bob Smith");
    emu.set_user_names(CAROL, "Carol Diaz", "");
    let ops = emu.create_channel(ALICE, "ops");
    emu.join_channel(&ops, BOB);
    let status = emu.create_channel(CAROL, "incident-status");
    emu.join_channel(&status, &emu.config().bot_user_id.clone());

    println!(
        "warroom demo: a Slack emulator on {} and a fresh database at {}",
        emu.api_url(),
        db_path.display()
    );
    println!(
        "Responders on call: Bob Smith and Carol Diaz; Alice Chen is on the checkout alarm route. A CloudWatch alarm notices first.\n"
    );

    // One clock for the bot, Slack and AWS: times in the channel, on the timeline and on
    // the AWS case agree.
    let clock = ManualClock::new(chrono::Utc::now());
    let aws =
        AwsFake::start_with_clock(CloudWatchBackend::InMemory, Arc::new(clock.clone())).await?;
    let (mut config, secrets) = config_for_emulator(&emu, &db_url, &[BOB, CAROL])?;
    alarm_config(&mut config, &aws.endpoint_url())?;
    config.slack.status_channel = Some(crate::domain::ChannelId::new(status.clone()));
    let access = AwsAccess::Static {
        access_key_id: "demo".to_string(),
        secret_access_key: "demo".to_string(),
    };
    emu.set_clock(Some(clock.now()));
    let app = App::build_with_aws(config, secrets, Arc::new(clock.clone()), access).await?;
    emu.wait_for_connections(1, STEP_DEADLINE).await?;

    let script = Script {
        emu: &emu,
        aws: &aws,
        clock: &clock,
        app: &app,
    };
    let result = script.play().await;
    let store = app.service.ctx().store.clone();
    let transcript = match &result {
        Ok(channel) => Some(script.transcript(channel)),
        Err(_) => None,
    };
    let stakeholders = script.transcript(&status);
    let draft = match &result {
        Ok(channel) => emu
            .files(channel)
            .into_iter()
            .find(|f| f.completed && f.filename.starts_with("postmortem"))
            .map(|f| (f.filename, String::from_utf8_lossy(&f.bytes).into_owned())),
        Err(_) => None,
    };
    let incidents = crate::store::incidents::list(store.db(), false).await?;
    // The alarm's incident (the private one, declared after it, is not the story here).
    let main = match &result {
        Ok(channel) => incidents
            .iter()
            .find(|r| r.channel_id.as_deref() == Some(channel.as_str())),
        Err(_) => None,
    };
    let timeline = match main {
        Some(r) => {
            let entries = crate::store::timeline::of_incident(store.db(), r.incident.id).await?;
            let people = report::people_in_timeline(r, &entries);
            let names = crate::store::people::known_names(store.db(), &people).await?;
            Some((r.clone(), entries, names))
        }
        None => None,
    };
    let leads: Vec<String> = incidents
        .iter()
        .filter_map(|r| r.incident.lead.as_ref().map(|l| l.as_str().to_string()))
        .collect();
    let lead_names = crate::store::people::known_names(store.db(), &leads).await?;
    app.stop().await?;
    emu.shutdown();
    aws.shutdown();
    let channel = result?;

    println!(
        "──── #{} as the responders saw it ────",
        emu.channel(&channel).map(|c| c.name).unwrap_or_default()
    );
    print!("{}", transcript.unwrap_or_default());
    println!(
        "\n──── recorded timeline (warroom timeline {}) ────",
        main.map(|r| r.incident.id.0).unwrap_or(0)
    );
    if let Some((record, entries, names)) = timeline {
        print!("{}", report::timeline(&record, &entries, &names));
    }
    println!("\n──── #incident-status as stakeholders saw it ────");
    print!("{stakeholders}");
    println!("\n──── incidents (warroom incidents --all) ────");
    print!(
        "{}",
        report::incidents(&incidents, &lead_names, clock.now())
    );
    if let Some((name, text)) = draft {
        println!("\n──── {name}, uploaded to the channel (first 40 lines) ────");
        for line in text.lines().take(40) {
            println!("{line}");
        }
        println!(
            "… ({} lines in all; `warroom postmortem <ID> --format html` renders it as a page)",
            text.lines().count()
        );
    }
    Ok(())
}

/// The demo's AWS side: one region, the checkout route (SEV2, Alice on it), polled fast.
fn alarm_config(config: &mut Config, endpoint: &str) -> anyhow::Result<()> {
    config.aws.endpoint_url = Some(endpoint.to_string());
    config.alarms.enabled = true;
    config.alarms.regions = vec![DEMO_REGION.to_string()];
    config.alarms.poll_interval = Duration::from_millis(200);
    config.alarms.routes.routes = vec![Route {
        name: "checkout".to_string(),
        matcher: Matcher {
            alarm_name: Some(Glob::new("checkout-*")),
            ..Matcher::default()
        },
        severity: Severity::Sev2,
        responders: vec![UserId::parse(ALICE).map_err(|e| anyhow!("{e}"))?],
        usergroup: None,
        runbook: Some("https://wiki.example.com/runbooks/checkout-5xx".to_string()),
        opens_incident: true,
        for_health: false,
        incident_type: Some("checkout".to_string()),
    }];
    // The route's incidents are of the checkout type: its checklist is posted in the war
    // room, and the comms role shows unfilled until someone takes it.
    config.incident.types = vec![IncidentType {
        name: "checkout".to_string(),
        severity: Severity::Sev2,
        private: false,
        responders: Vec::new(),
        usergroup: None,
        roles: vec!["comms".to_string()],
        checklist: vec![
            Step {
                text: "Check the last deploy of the checkout service".to_string(),
                runbook: Some("https://wiki.example.com/runbooks/checkout-deploys".to_string()),
            },
            Step {
                text: "Post a status page notice".to_string(),
                runbook: None,
            },
            Step {
                text: "Ask payments whether orders were lost".to_string(),
                runbook: None,
            },
        ],
        postmortem_template: None,
    }];
    Ok(())
}

const DEMO_REGION: &str = "us-east-1";

struct Script<'a> {
    emu: &'a SlackEmulator,
    aws: &'a AwsFake,
    clock: &'a ManualClock,
    app: &'a App,
}

impl Script<'_> {
    /// Let time pass for the bot and for Slack alike.
    fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.emu.set_clock(Some(self.clock.now()));
        self.app.service.kick_timers();
    }

    /// How many messages the bot has posted in `channel`.
    fn bot_count(&self, channel: &str) -> usize {
        let bot = self.emu.config().bot_user_id.clone();
        self.emu
            .messages(channel)
            .iter()
            .filter(|m| m.user == bot)
            .count()
    }

    /// Wait for a bot message containing `needle`; returns its ts.
    async fn bot_post(&self, channel: &str, needle: &str) -> anyhow::Result<String> {
        let bot = self.emu.config().bot_user_id.clone();
        let ch = channel.to_string();
        self.emu
            .wait_until(STEP_DEADLINE, |ws| {
                ws.messages
                    .get(&ch)?
                    .iter()
                    .find(|m| {
                        m.user == bot && plain_text(&m.text, m.blocks.as_ref()).contains(needle)
                    })
                    .map(|m| m.ts.clone())
            })
            .await
            .map_err(|e| anyhow!("waiting for warroom to say {needle:?}: {e}"))
    }

    /// Half an hour in, warroom asks for an AWS Support case; Bob opens it from the nudge's
    /// form, and AWS answers in the channel.
    async fn escalate(&self, channel: &str) -> anyhow::Result<()> {
        let emu = self.emu;
        self.advance(chrono::Duration::minutes(31));
        let nudge = self
            .bot_post(channel, "no AWS Support case is open")
            .await?;
        emu.click_button(
            BOB,
            channel,
            &nudge,
            crate::slack::render_support::OPEN_CASE_ACTION,
        )
        .await?;
        let form = emu
            .wait_until(STEP_DEADLINE, |ws| {
                ws.views_opened
                    .iter()
                    .find(|v| v.user == BOB && !v.closed)
                    .map(|v| v.view_id.clone())
            })
            .await
            .map_err(|e| anyhow!("the case form never opened: {e}"))?;
        // Bob keeps the drafted subject, severity and description.
        emu.submit_view(BOB, &form, serde_json::json!({})).await?;
        self.bot_post(channel, "opened AWS Support case").await?;
        let case = self
            .aws
            .support_cases()
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no case reached AWS"))?;
        self.advance(chrono::Duration::minutes(12));
        self.aws.add_support_reply(
            &case.case_id,
            "Hello, this is AWS Support. The checkout-db instance has been at its max_connections limit since the alarm; \
             the engine is healthy. Consider RDS Proxy to pool connections across the fleet. Connection graph attached.",
            self.clock.now(),
            &["checkout-db-connections.png"],
        );
        self.advance(chrono::Duration::minutes(1));
        self.bot_post(channel, "AWS Support replied").await?;
        Ok(())
    }
    async fn command(&self, user: &str, channel: &str, text: &str) -> anyhow::Result<()> {
        let outcome = self.emu.slash_command(user, channel, text).await?;
        if let Some(p) = outcome
            .payload()
            .and_then(|p| p.get("text"))
            .and_then(|t| t.as_str())
        {
            if !p.is_empty() {
                return Err(anyhow!("/incident {text} was refused: {p}"));
            }
        }
        Ok(())
    }

    /// Wait until the channel has `n` messages from the bot; returns the ts of the `n`th.
    async fn bot_messages(&self, channel: &str, n: usize) -> anyhow::Result<String> {
        let bot = self.emu.config().bot_user_id.clone();
        let ch = channel.to_string();
        self.emu
            .wait_until(STEP_DEADLINE, |ws| {
                ws.messages
                    .get(&ch)?
                    .iter()
                    .filter(|m| m.user == bot)
                    .nth(n.checked_sub(1)?)
                    .map(|m| m.ts.clone())
            })
            .await
            .map_err(|e| anyhow!("waiting for warroom's message #{n} in the incident channel: {e}"))
    }

    async fn play(&self) -> anyhow::Result<String> {
        let emu = self.emu;
        let now = self.clock.now();
        let hhmm = |minutes_ago: i64| {
            (now - chrono::Duration::minutes(minutes_ago))
                .format("%H:%M")
                .to_string()
        };
        // Forty minutes ago a deploy raised the DB pool size (CloudTrail has it, with the
        // routine role assumption before it); "What changed before the alarm" will show it.
        let mut deploy = FakeTrailEvent::write(
            DEMO_REGION,
            "5e0d7c1a-demo-0000-0000-2026112103",
            "UpdateService",
            now - chrono::Duration::minutes(40),
            "arn:aws:sts::123456789012:assumed-role/Deployer/ci-2026.11.21-3",
        );
        deploy.source = "ecs.amazonaws.com".to_string();
        deploy.resources = vec![("AWS::ECS::Service".to_string(), "checkout-api".to_string())];
        deploy.request_parameters = serde_json::json!({
            "cluster": "prod",
            "service": "checkout-api",
            "taskDefinition": "checkout-api:143",
        });
        self.aws.add_trail_event(deploy);
        self.aws.add_trail_event(FakeTrailEvent::write(
            DEMO_REGION,
            "5e0d7c1a-demo-0000-0000-2026112102",
            "AssumeRole",
            now - chrono::Duration::minutes(41),
            "arn:aws:iam::123456789012:user/ci",
        ));
        // The load balancer's 5xx alarm fires; nobody declares anything.
        self.aws.set_alarm(FakeAlarm {
            region: DEMO_REGION.to_string(),
            name: "checkout-alb-5xx".to_string(),
            description: Some(
                "Checkout API returning 5xx behind the ALB. Page the checkout on-call.".to_string(),
            ),
            namespace: "AWS/ApplicationELB".to_string(),
            metric_name: "HTTPCode_Target_5XX_Count".to_string(),
            dimensions: vec![(
                "LoadBalancer".to_string(),
                "app/checkout-alb/50dc6c495c0c9188".to_string(),
            )],
            statistic: "Sum".to_string(),
            period_secs: 60,
            threshold: 50.0,
            comparison: "GreaterThanThreshold".to_string(),
            state: "ALARM".to_string(),
            state_reason: "Threshold Crossed: 3 datapoints [412.0, 388.0, 97.0] were greater than the threshold (50.0)".to_string(),
            state_updated_at: now - chrono::Duration::minutes(2),
            tags: vec![("team".to_string(), "checkout".to_string())],
        });
        let channel = emu
            .wait_until(STEP_DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .find(|c| c.name.starts_with("inc-") && !c.is_im)
                    .map(|c| c.id.clone())
            })
            .await
            .map_err(|e| anyhow!("the incident channel never appeared: {e}"))?;
        emu.wait_until(STEP_DEADLINE, |ws| {
            ws.channel(&channel)
                .filter(|c| c.is_member(ALICE) && c.is_member(BOB) && c.is_member(CAROL))
                .map(|_| ())
        })
        .await?;
        // Header, the alarm's details, its graph and what AWS Health says: then people talk.
        self.opening(&channel).await?;
        // The route's type brought its checklist; Bob ticks the first step.
        let checklist = self.bot_post(&channel, "Checklist (checkout)").await?;
        emu.click_button(
            BOB,
            &channel,
            &checklist,
            crate::slack::render_checklist::TICK_ACTION,
        )
        .await?;
        self.bot_post(&channel, "1 of 3 done").await?;
        let base = self.bot_count(&channel);

        let first = emu.post_message(
            ALICE,
            &channel,
            &format!(
                "CloudWatch: CPUUtilization 98% on the checkout ASG, ELB 5xx climbing since {}",
                hhmm(12)
            ),
            None,
        )?;
        emu.post_message(
            BOB,
            &channel,
            "Scaling out didn't help: new instances saturate within minutes",
            None,
        )?;
        let rds = emu.post_message(
            BOB,
            &channel,
            "RDS: DatabaseConnections pinned at max_connections (500) on checkout-db",
            None,
        )?;
        emu.post_message(
            ALICE,
            &channel,
            "Threads piling up waiting for a DB connection, that explains the CPU",
            Some(&rds),
        )?;
        emu.add_reaction(ALICE, &channel, &rds, "pushpin")?;
        self.command(
            BOB,
            &channel,
            "status identified RDS connection exhaustion; app servers block on the pool",
        )
        .await?;
        self.bot_messages(&channel, base + 1).await?;
        self.command(
            ALICE,
            &channel,
            &format!(
                "note at {} deploy 2026.11.21-3 raised the pool size per instance from 10 to 50",
                hhmm(40)
            ),
        )
        .await?;
        self.bot_messages(&channel, base + 2).await?;
        self.escalate(&channel).await?;
        // Counting warroom's posts from here on.
        let base = self.bot_count(&channel) - 2;
        emu.edit_message(
            ALICE,
            &channel,
            &first,
            &format!(
                "CloudWatch: CPUUtilization 98% on the checkout ASG, ELB 5xx climbing since {} UTC",
                hhmm(12)
            ),
        )?;
        self.command(ALICE, &channel, "lead <@U0BOB>").await?;
        self.bot_messages(&channel, base + 3).await?;
        // The new lead hands stakeholder communication to Carol: shown in the pinned header.
        self.command(BOB, &channel, "role comms <@U0CAROL>").await?;
        self.bot_messages(&channel, base + 4).await?;
        self.command(
            CAROL,
            &channel,
            "update Checkout is failing for about a third of orders; we are rolling back the last deploy. Next update in 30 minutes",
        )
        .await?;
        self.bot_messages(&channel, base + 5).await?;
        self.command(
            BOB,
            &channel,
            "status monitoring rolled back to 2026.11.21-2; connections dropping",
        )
        .await?;
        self.bot_messages(&channel, base + 6).await?;
        let fixed = emu.post_message(
            BOB,
            &channel,
            "5xx back to baseline, p99 latency normal",
            None,
        )?;
        emu.pin_message(BOB, &channel, &fixed)?;
        self.command(
            BOB,
            &channel,
            "resolve error rate at baseline for 20 minutes",
        )
        .await?;
        let resolved = self.bot_messages(&channel, base + 7).await?;
        // The header is updated right after the resolve notice.
        let ch = channel.clone();
        emu.wait_until(STEP_DEADLINE, |ws| {
            ws.messages
                .get(&ch)?
                .iter()
                .find(|m| m.pinned && m.bot_id.is_some() && m.text.contains("resolved"))
                .map(|_| ())
        })
        .await
        .map_err(|e| anyhow!("the header never showed the resolution: {e}"))?;
        // The AWS case is still open: Bob resolves it from the prompt.
        let prompt = self.bot_post(&channel, "is still open").await?;
        emu.click_button(
            BOB,
            &channel,
            &prompt,
            crate::slack::render_support::RESOLVE_CASE_ACTION,
        )
        .await?;
        self.bot_post(&channel, "resolved AWS Support case").await?;
        // Bob takes the offer on the resolve notice and drafts the postmortem.
        emu.click_button(
            BOB,
            &channel,
            &resolved,
            crate::slack::render::DRAFT_POSTMORTEM_ACTION,
        )
        .await?;
        emu.wait_until(STEP_DEADLINE, |ws| {
            ws.files
                .iter()
                .any(|f| {
                    f.completed
                        && f.channel.as_deref() == Some(ch.as_str())
                        && f.filename.starts_with("postmortem")
                })
                .then_some(())
        })
        .await
        .map_err(|e| anyhow!("the postmortem draft was never uploaded: {e}"))?;
        self.private_incident().await?;
        // Events are applied in arrival order, so once the resolve notice is out, the
        // messages and the pin before it are on the timeline.
        Ok(channel)
    }

    /// Carol declares a private incident and raises its severity: a private channel, and
    /// the status channel sees only "a private SEV1 incident, lead @Carol".
    async fn private_incident(&self) -> anyhow::Result<()> {
        let emu = self.emu;
        let find = |name: &str| {
            emu.channel_by_name(name)
                .map(|c| c.id)
                .ok_or_else(|| anyhow!("no #{name}"))
        };
        let (ops, status) = (find("ops")?, find("incident-status")?);
        self.command(
            CAROL,
            &ops,
            "declare --private Payroll export written to the wrong bucket sev2",
        )
        .await?;
        let bot = emu.config().bot_user_id.clone();
        let private = emu
            .wait_until(STEP_DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .filter(|c| c.is_private && !c.is_im)
                    .find(|c| {
                        ws.messages
                            .get(&c.id)
                            .is_some_and(|m| m.iter().any(|m| m.user == bot && m.pinned))
                    })
                    .map(|c| c.id.clone())
            })
            .await
            .map_err(|e| anyhow!("the private incident's channel was never set up: {e}"))?;
        self.command(CAROL, &private, "sev 1").await?;
        self.bot_post(&status, "a private SEV1 incident").await?;
        Ok(())
    }

    /// Wait for the alarm's war room to be complete (the Health check is its last post);
    /// returns how many messages the bot has posted so far.
    async fn opening(&self, channel: &str) -> anyhow::Result<usize> {
        let bot = self.emu.config().bot_user_id.clone();
        let ch = channel.to_string();
        self.emu
            .wait_until(STEP_DEADLINE, |ws| {
                let mine: Vec<_> = ws
                    .messages
                    .get(&ch)?
                    .iter()
                    .filter(|m| m.user == bot)
                    .collect();
                mine.iter()
                    .any(|m| m.text.contains("AWS Health"))
                    .then_some(mine.len())
            })
            .await
            .map_err(|e| anyhow!("the alarm's war room was never completed: {e}"))
    }

    fn transcript(&self, channel: &str) -> String {
        // As a Slack client shows it: people by display name (else full name), mentions too.
        let users = self.emu.workspace().users;
        let shown = |u: &crate::slack_emulator::User| {
            if u.display_name.is_empty() {
                u.real_name.clone()
            } else {
                u.display_name.clone()
            }
        };
        let name_of = |id: &str| -> String {
            users
                .iter()
                .find(|u| u.id == id)
                .map(shown)
                .unwrap_or_else(|| {
                    if id == self.emu.config().bot_user_id {
                        "warroom".into()
                    } else {
                        id.to_string()
                    }
                })
        };
        let mut out = String::new();
        for m in self.emu.messages(channel) {
            let at = crate::slack::inbound::ts_to_time(&m.ts)
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default();
            let who = if m.bot_id.is_some() {
                "warroom".to_string()
            } else {
                name_of(&m.user)
            };
            let mut flags = String::new();
            if m.thread_ts.is_some() && m.thread_ts.as_deref() != Some(m.ts.as_str()) {
                flags.push_str(" (in thread)");
            }
            if m.edited.is_some() {
                flags.push_str(" (edited)");
            }
            if m.pinned {
                flags.push_str(" (pinned)");
            }
            let mut body = plain_text(&m.text, m.blocks.as_ref());
            for u in &users {
                body = body.replace(&format!("@{}", u.id), &format!("@{}", shown(u)));
            }
            let mut lines = body.lines();
            out.push_str(&format!(
                "[{at}] {who}{flags}: {}\n",
                lines.next().unwrap_or_default()
            ));
            for l in lines {
                out.push_str(&format!("           {l}\n"));
            }
        }
        out
    }
}
