//! The authorization table end to end (SECURITY.md): every row of
//! `warroom::domain::authorization::TABLE`, tried by every kind of actor, through the Slack
//! emulator (the real bot, real Socket Mode, the real Web API). An allowed request takes
//! effect; a refused one is answered privately with who may, and changes nothing.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use warroom::app::App;
use warroom::aws::fake::{AwsFake, CloudWatchBackend};
use warroom::clock::ManualClock;
use warroom::domain::authorization::{allowed, Action, Role, RoleSet};
use warroom::domain::IncidentRecord;
use warroom::domain::{EntryKind, Status};
use warroom::slack::render_support as ui;
use warroom::slack_emulator::Message;
use warroom::store::Store;

use crate::helpers::*;

const LEAD: &str = "U0LEAD";
const INCIDENT_LEAD: &str = "U0INCLEAD";
/// Someone the lead is handed to and back from.
const STAND_IN: &str = "U0STANDIN";
const LEADS_GROUP: &str = "S0INCLEADS";
const SUPPORT_GROUP: &str = "S0AWSADMIN";
/// Carol is a responder who sets the stage (resolves, reopens, hands the lead back); she is
/// never the one being checked.
const STAGEHAND: &str = CAROL;

/// One column of the table: who tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lead,
    Responder,
    Declarer,
    IncidentLead,
    SupportGroup,
    Participant,
    Anyone,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Lead,
        Kind::Responder,
        Kind::Declarer,
        Kind::IncidentLead,
        Kind::SupportGroup,
        Kind::Participant,
        Kind::Anyone,
    ];

    fn role(self) -> Role {
        match self {
            Kind::Lead => Role::Lead,
            Kind::Responder => Role::Responder,
            Kind::Declarer => Role::Declarer,
            Kind::IncidentLead => Role::IncidentLead,
            Kind::SupportGroup => Role::SupportEscalator,
            Kind::Participant => Role::Participant,
            Kind::Anyone => Role::Anyone,
        }
    }
}

/// Which incident a row is tried in. Most rows share one; the nudge buttons need an
/// incident that never had an AWS Support case (a case, even resolved, ends the "open a
/// case" nudges), and so does the case form, which every caller opens before anyone
/// submits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    Main,
    Nudges,
    Form,
}

/// The bot, its workspace and the incidents the rows are tried in.
struct Stage {
    world: World,
    store: Store,
    clock: ManualClock,
    app: App,
    aws: AwsFake,
    /// The incident channel requests are tried in now (see [`Room`]).
    ch: String,
    /// The incident channels made so far, by purpose.
    rooms: Vec<(Room, String)>,
    /// Members of the AWS Support user group.
    support: Vec<String>,
    /// People made so far for the kinds that must not have taken part before.
    made: usize,
}

impl Stage {
    async fn new() -> Stage {
        let aws = AwsFake::start(CloudWatchBackend::InMemory)
            .await
            .expect("the AWS fake starts");
        let world = World::new().await;
        for (id, name) in [(LEAD, "lena"), (INCIDENT_LEAD, "ines"), (STAND_IN, "stan")] {
            world.emu.add_user(id, name);
        }
        world
            .emu
            .add_usergroup(LEADS_GROUP, "incident-leads", &[INCIDENT_LEAD]);
        world.emu.add_usergroup(SUPPORT_GROUP, "aws-admins", &[]);
        let now = Utc::now();
        let clock = ManualClock::new(
            Utc.timestamp_opt(now.timestamp() - now.timestamp() % 60, 0)
                .unwrap(),
        );
        let (mut config, secrets) = world.bot_config();
        config.slack.incident_leads = Some(LEADS_GROUP.into());
        // A day: every resolve posts the archive warning ("Keep open") at once.
        config.incident.archive_after = Some(std::time::Duration::from_secs(86_400));
        // Every room's incident has a checklist, one step per kind of caller and more.
        config.incident.types = vec![warroom::domain::incident_type::IncidentType {
            name: "walk".into(),
            severity: warroom::domain::Severity::Sev2,
            private: false,
            responders: Vec::new(),
            usergroup: None,
            roles: Vec::new(),
            checklist: (1..=12)
                .map(|i| warroom::domain::incident_type::Step {
                    text: format!("step {i}"),
                    runbook: None,
                })
                .collect(),
            postmortem_template: None,
        }];
        escalate(&mut config);
        let e = &mut config.escalation;
        e.support_usergroup = Some(SUPPORT_GROUP.into());
        e.support_api = true;
        e.aws_support_after_by_severity = Default::default();
        e.support_poll_interval = std::time::Duration::from_secs(60);
        config.aws.endpoint_url = Some(aws.endpoint_url());
        let app = world
            .launch(
                config,
                secrets,
                Arc::new(clock.clone()),
                Some(test_keys()),
                Connect::AtLeastOne,
            )
            .await;
        let store = world.store().await;

        let mut stage = Stage {
            world,
            store,
            clock,
            app,
            aws,
            ch: String::new(),
            rooms: Vec::new(),
            support: Vec::new(),
            made: 0,
        };
        stage.enter(Room::Main).await;
        stage
    }

    /// Go to the incident for `room`, declaring it the first time: Alice declares and hands
    /// the lead to Lena, Dave takes part by speaking, everybody joins.
    async fn enter(&mut self, room: Room) {
        if let Some((_, ch)) = self.rooms.iter().find(|(r, _)| *r == room) {
            self.ch = ch.clone();
            return;
        }
        self.ch = self
            .world
            .declare(ALICE, &format!("Checkout errors {room:?} sev2 type:walk"))
            .await;
        self.rooms.push((room, self.ch.clone()));
        for u in [LEAD, BOB, CAROL, DAVE, INCIDENT_LEAD, STAND_IN] {
            self.world.emu.join_channel(&self.ch, u);
        }
        for u in &self.support {
            self.world.emu.join_channel(&self.ch, u);
        }
        self.by(ALICE, &format!("lead <@{LEAD}>"), EntryKind::LeadChanged)
            .await;
        let ts = self
            .world
            .emu
            .post_message(DAVE, &self.ch, "I run the checkout service, looking", None)
            .unwrap();
        wait_timeline(&self.store, &self.ch, "Dave's message", |e| {
            e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
        })
        .await;
    }

    /// Who tries, for `kind`. Members of the support group and bystanders are new people
    /// each time: once they ran something open to anyone they would have taken part.
    fn actor(&mut self, kind: Kind) -> String {
        match kind {
            Kind::Lead => LEAD.into(),
            Kind::Responder => BOB.into(),
            Kind::Declarer => ALICE.into(),
            Kind::IncidentLead => INCIDENT_LEAD.into(),
            Kind::Participant => DAVE.into(),
            Kind::SupportGroup => {
                let id = self.person("U0AWS", "aws-admin");
                self.support.push(id.clone());
                self.set_support_group();
                id
            }
            Kind::Anyone => self.person("U0ANY", "bystander"),
        }
    }

    fn person(&mut self, prefix: &str, name: &str) -> String {
        self.made += 1;
        let id = format!("{prefix}{}", self.made);
        self.world
            .emu
            .add_user(&id, &format!("{name}{}", self.made));
        self.world.emu.join_channel(&self.ch, &id);
        id
    }

    fn set_support_group(&self) {
        let members: Vec<&str> = self.support.iter().map(String::as_str).collect();
        self.world
            .emu
            .add_usergroup(SUPPORT_GROUP, "aws-admins", &members);
    }

    async fn incident(&self) -> IncidentRecord {
        incident_in(&self.store, &self.ch).await
    }

    async fn entries_by(&self, user: &str, kind: EntryKind) -> usize {
        let id = self.incident().await.incident.id;
        warroom::store::timeline::of_incident(self.store.db(), id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == kind && e.actor.as_deref() == Some(user))
            .count()
    }

    /// `/incident <text>` as `user` in the incident channel, waiting for its entry of `kind`.
    async fn by(&self, user: &str, text: &str, kind: EntryKind) {
        let before = self.entries_by(user, kind).await;
        assert_eq!(self.cmd(user, text).await, None, "{user}: {text}");
        self.wait_entry(user, kind, before, text).await;
    }

    async fn wait_entry(&self, user: &str, kind: EntryKind, before: usize, what: &str) {
        let count = |e: &[warroom::domain::TimelineEntry]| {
            e.iter()
                .filter(|e| e.kind == kind && e.actor.as_deref() == Some(user))
                .count()
        };
        wait_timeline(&self.store, &self.ch, &format!("{user}: {what}"), |e| {
            count(e) > before
        })
        .await;
    }

    async fn cmd(&self, user: &str, text: &str) -> Option<String> {
        self.world.command(user, &self.ch, text).await
    }

    /// The newest message of the bot's in the channel with a button `action_id`.
    fn with_button(&self, action_id: &str) -> Option<Message> {
        let bot = self.world.emu.config().bot_user_id.clone();
        self.world
            .emu
            .messages(&self.ch)
            .into_iter()
            .rev()
            .find(|m| m.user == bot && has_button(m.blocks.as_ref(), action_id))
    }

    async fn wait_button(&self, action_id: &str) -> Message {
        let bot = self.world.emu.config().bot_user_id.clone();
        let (ch, id) = (self.ch.clone(), action_id.to_string());
        self.world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.messages
                    .get(&ch)?
                    .iter()
                    .rev()
                    .find(|m| m.user == bot && has_button(m.blocks.as_ref(), &id))
                    .cloned()
            })
            .await
            .unwrap_or_else(|e| {
                let all: Vec<_> = self
                    .world
                    .emu
                    .messages(&self.ch)
                    .into_iter()
                    .filter(|m| m.user == bot)
                    .map(|m| (m.text, m.blocks))
                    .collect();
                panic!("no message with the {action_id} button: {e}: {all:#?}")
            })
    }

    async fn click(&self, user: &str, message: &Message, action_id: &str) {
        self.world
            .emu
            .click_button(user, &self.ch, &message.ts, action_id)
            .await
            .expect("click acked");
    }

    /// Move the bot's clock; the scheduler looks again at once.
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.app.service.kick_timers();
    }

    async fn set_status(&self, status: Status) {
        if self.incident().await.incident.status == status {
            return;
        }
        let (text, kind) = match status {
            Status::Resolved => ("resolve".to_string(), EntryKind::Resolved),
            s if self.incident().await.incident.status == Status::Resolved => {
                (format!("status {s}"), EntryKind::Reopened)
            }
            s => (format!("status {s}"), EntryKind::StatusChanged),
        };
        self.by(STAGEHAND, &text, kind).await;
    }

    /// The incident's latest AWS Support case, if it is open.
    async fn open_case(&self) -> Option<warroom::domain::support::SupportCase> {
        let id = self.incident().await.incident.id;
        warroom::store::escalation::latest_case(self.store.db(), id)
            .await
            .unwrap()
            .filter(|c| c.is_open())
    }

    async fn ensure_case_open(&self) {
        if self.open_case().await.is_some() {
            return;
        }
        let before = self.entries_by(STAGEHAND, EntryKind::SupportCase).await;
        self.set_status(Status::Investigating).await;
        assert_eq!(self.cmd(STAGEHAND, "escalate aws").await, None);
        self.wait_entry(STAGEHAND, EntryKind::SupportCase, before, "case opened")
            .await;
        assert!(
            self.open_case().await.is_some(),
            "the stagehand's case is open"
        );
    }

    /// Resolve the incident with its case open: warroom offers "Resolve AWS case".
    async fn resolve_case_prompt(&self) -> Message {
        self.ensure_case_open().await;
        let bot = self.world.emu.config().bot_user_id.clone();
        let prompts = move |ws: &warroom::slack_emulator::Workspace, ch: &str| -> Vec<Message> {
            ws.messages.get(ch).map_or_else(Vec::new, |m| {
                m.iter()
                    .filter(|m| {
                        m.user == bot && has_button(m.blocks.as_ref(), ui::RESOLVE_CASE_ACTION)
                    })
                    .cloned()
                    .collect()
            })
        };
        let before = prompts(&self.world.emu.workspace(), &self.ch).len();
        self.set_status(Status::Resolved).await;
        let ch = self.ch.clone();
        self.world
            .emu
            .wait_until(DEADLINE, |ws| {
                let all = prompts(ws, &ch);
                (all.len() > before).then(|| all[all.len() - 1].clone())
            })
            .await
            .expect("the Resolve AWS case prompt")
    }

    /// A case nudge with its buttons, in an incident that never had a case: an answered
    /// nudge loses its buttons, so after one is answered, AWS is ruled back in and the
    /// clock moved past any snooze until the next nudge comes.
    async fn case_nudge(&self) -> Message {
        if let Some(m) = self.with_button(ui::NOT_AWS_ACTION) {
            return m;
        }
        self.by(STAGEHAND, "aws yes", EntryKind::AwsInvolvement)
            .await;
        let nudges = |ws: &warroom::slack_emulator::Workspace, ch: &str| {
            ws.messages.get(ch).map_or(0, |m| {
                m.iter()
                    .filter(|m| has_button(m.blocks.as_ref(), ui::NOT_AWS_ACTION))
                    .count()
            })
        };
        let before = nudges(&self.world.emu.workspace(), &self.ch);
        // Past any snooze and the repeat interval: the nudge is due again.
        self.advance(Duration::minutes(31));
        let ch = self.ch.clone();
        self.world
            .emu
            .wait_until(DEADLINE, |ws| (nudges(ws, &ch) > before).then_some(()))
            .await
            .expect("a new case nudge");
        self.wait_button(ui::NOT_AWS_ACTION).await
    }
}

fn has_button(blocks: Option<&Value>, action_id: &str) -> bool {
    blocks
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|b| {
            // Buttons in an actions block, or beside a section (a checklist step's).
            let elements = b.get("elements").and_then(Value::as_array);
            elements.into_iter().flatten().chain(b.get("accessory"))
        })
        .any(|e| e.get("action_id").and_then(Value::as_str) == Some(action_id))
}

/// What an attempt must show: the effect when allowed, the refusal otherwise.
struct Attempt<'a> {
    stage: &'a Stage,
    action: Action,
    user: String,
    expect: bool,
    seen: usize,
    before: IncidentRecord,
    /// The newest timeline entry before the attempt: the caller's effects come after it.
    last_entry: i64,
    cases: usize,
    views: usize,
}

impl<'a> Attempt<'a> {
    async fn new(stage: &'a Stage, action: Action, user: &str, expect: bool) -> Attempt<'a> {
        let before = stage.incident().await;
        let last_entry =
            warroom::store::timeline::of_incident(stage.store.db(), before.incident.id)
                .await
                .unwrap()
                .iter()
                .map(|e| e.id)
                .max()
                .unwrap_or(0);
        Attempt {
            stage,
            action,
            user: user.to_string(),
            expect,
            seen: stage.world.ephemeral_count(user),
            before,
            last_entry,
            cases: stage.aws.support_cases().len(),
            views: stage.world.emu.views_opened(user).len(),
        }
    }

    fn label(&self) -> String {
        format!("{} by {}", self.action.name(), self.user)
    }

    /// The next private answer to the caller.
    async fn answer(&self) -> String {
        let user = self.user.clone();
        self.stage
            .world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.ephemerals
                    .iter()
                    .filter(|e| e.user == user)
                    .nth(self.seen)
                    .map(|e| e.text.clone())
            })
            .await
            .unwrap_or_else(|e| panic!("{}: no answer to the caller: {e}", self.label()))
    }

    /// Refused: the caller alone hears who may, and nothing changed (the refusal is the
    /// checkpoint's last word, so nothing can follow it).
    async fn refused(&self) {
        let reply = self.answer().await;
        let what = self.action.describe();
        assert!(
            reply.starts_with(":no_entry: Only") && reply.contains(&format!("may {what}")),
            "{}: expected a refusal, got {reply:?}",
            self.label()
        );
        let after = self.stage.incident().await;
        assert_eq!(after.incident, self.before.incident, "{}", self.label());
        let left: Vec<_> =
            warroom::store::timeline::of_incident(self.stage.store.db(), after.incident.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| {
                    e.id > self.last_entry && e.actor.as_deref() == Some(self.user.as_str())
                })
                .collect();
        assert!(left.is_empty(), "{} left entries: {left:?}", self.label());
        assert_eq!(
            self.stage.aws.support_cases().len(),
            self.cases,
            "{} reached AWS",
            self.label()
        );
        assert_eq!(
            self.stage.world.emu.views_opened(&self.user).len(),
            self.views,
            "{} opened a form",
            self.label()
        );
    }

    /// Allowed: wait for a new timeline entry of `kind` by the caller.
    async fn entry(&self, kind: EntryKind) {
        if !self.expect {
            return self.refused().await;
        }
        let user = self.user.as_str();
        wait_timeline(&self.stage.store, &self.stage.ch, &self.label(), |e| {
            e.iter().any(|e| {
                e.id > self.last_entry && e.kind == kind && e.actor.as_deref() == Some(user)
            })
        })
        .await;
    }

    /// Allowed: a private answer containing `needle` (and not a refusal).
    async fn told(&self, needle: &str) {
        if !self.expect {
            return self.refused().await;
        }
        let reply = self.answer().await;
        assert!(
            reply.contains(needle) && !reply.starts_with(":no_entry:"),
            "{}: expected {needle:?}, got {reply:?}",
            self.label()
        );
    }
}

/// `/incident <text>` by `user`; an answer in the ack is returned.
async fn run(stage: &Stage, user: &str, text: &str) -> Option<String> {
    stage.cmd(user, text).await
}

async fn try_action(stage: &mut Stage, action: Action, kind: Kind) {
    if !matches!(
        action,
        Action::SnoozeButton | Action::NotAwsButton | Action::OpenCaseButton
    ) {
        stage.enter(Room::Main).await;
    }
    let user = stage.actor(kind);
    let expect = allowed(action, &RoleSet::of(kind.role()));
    let u = user.as_str();
    match action {
        Action::Declare => {
            let incidents = |ws: &warroom::slack_emulator::Workspace| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("inc-"))
                    .count()
            };
            let before = incidents(&stage.world.emu.workspace());
            let a = Attempt::new(stage, action, u, expect).await;
            let ack = stage
                .world
                .command(u, &stage.world.ops, &format!("declare side issue {u}"))
                .await;
            if expect {
                assert_eq!(ack, None, "{}", a.label());
                stage
                    .world
                    .emu
                    .wait_until(DEADLINE, |ws| (incidents(ws) > before).then_some(()))
                    .await
                    .expect("a new incident channel");
                a.told("declared").await;
            } else {
                a.refused().await;
            }
        }
        Action::Drill | Action::DrillRealCase => {
            let drills = |ws: &warroom::slack_emulator::Workspace| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("drill-"))
                    .count()
            };
            let before = drills(&stage.world.emu.workspace());
            let a = Attempt::new(stage, action, u, expect).await;
            let text = match action {
                Action::DrillRealCase => "drill --real-case",
                _ => "drill",
            };
            let ack = stage.world.command(u, &stage.world.ops, text).await;
            if expect {
                assert_eq!(ack, None, "{}", a.label());
                stage
                    .world
                    .emu
                    .wait_until(DEADLINE, |ws| (drills(ws) > before).then_some(()))
                    .await
                    .expect("a new drill channel");
                a.told("DRILL").await;
            } else {
                a.refused().await;
                assert_eq!(
                    drills(&stage.world.emu.workspace()),
                    before,
                    "{}",
                    a.label()
                );
            }
        }
        Action::Note => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("note {u} checked the dashboards")).await;
            a.entry(EntryKind::Note).await;
        }
        Action::Timeline
        | Action::Catchup
        | Action::List
        | Action::Help
        | Action::Actions
        | Action::Stats => {
            let a = Attempt::new(stage, action, u, expect).await;
            let (text, needle) = match action {
                Action::Timeline => ("timeline", "Timeline of incident"),
                Action::Catchup => ("catchup", "Catch-up on incident"),
                Action::List => ("list", "open incident"),
                Action::Help => ("help", "/incident"),
                Action::Stats => ("stats 7d", "Incidents in the last 7 days"),
                _ => ("actions", "ction item"),
            };
            let ack = run(stage, u, text).await;
            if expect {
                let ack = ack.unwrap_or_default();
                assert!(ack.contains(needle), "{}: {ack:?}", a.label());
            } else {
                assert_eq!(ack, None, "{}", a.label());
                a.refused().await;
            }
        }
        Action::AddAction => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("action write the runbook for {u}")).await;
            a.entry(EntryKind::Note).await;
        }
        Action::ActionDone => {
            stage
                .by(STAGEHAND, &format!("action item for {u}"), EntryKind::Note)
                .await;
            let id = stage.incident().await.incident.id;
            let n = warroom::store::actions::of_incident(stage.store.db(), id)
                .await
                .unwrap()
                .len();
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("action done {n}")).await;
            a.entry(EntryKind::Note).await;
        }
        Action::Postmortem => {
            let files = stage.world.emu.files(&stage.ch).len();
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "postmortem").await;
            if expect {
                let ch = stage.ch.clone();
                stage
                    .world
                    .emu
                    .wait_until(DEADLINE, |ws| {
                        (ws.files
                            .iter()
                            .filter(|f| f.channel.as_deref() == Some(&ch))
                            .count()
                            > files)
                            .then_some(())
                    })
                    .await
                    .expect("a postmortem draft");
            } else {
                a.refused().await;
            }
        }
        Action::AwsStatus => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "aws status").await;
            a.told("AWS Support case").await;
        }
        Action::Changes => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "changes 3h").await;
            a.entry(EntryKind::AwsChanges).await;
        }
        Action::Update => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("update {u}: checkout is degraded")).await;
            a.entry(EntryKind::Update).await;
        }
        Action::Snooze => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "snooze 30m").await;
            a.entry(EntryKind::Snoozed).await;
        }
        Action::AwsInvolved => {
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "aws yes").await;
            a.entry(EntryKind::AwsInvolvement).await;
        }
        Action::Status => {
            stage.set_status(Status::Investigating).await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "status identified").await;
            a.entry(EntryKind::StatusChanged).await;
        }
        Action::Severity => {
            stage.set_status(Status::Investigating).await;
            let now = stage.incident().await.incident.severity.level();
            let to = if now == 1 { 2 } else { 1 };
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("sev {to}")).await;
            a.entry(EntryKind::SeverityChanged).await;
        }
        Action::Lead => {
            stage.set_status(Status::Investigating).await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("lead <@{STAND_IN}>")).await;
            a.entry(EntryKind::LeadChanged).await;
            if expect {
                stage
                    .by(
                        STAGEHAND,
                        &format!("lead <@{LEAD}>"),
                        EntryKind::LeadChanged,
                    )
                    .await;
            }
        }
        Action::AssignRole => {
            stage.set_status(Status::Investigating).await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("role comms <@{STAND_IN}>")).await;
            a.entry(EntryKind::RoleAssigned).await;
            if expect {
                // Hand it back, so the next actor's assignment is a change again.
                stage
                    .by(
                        STAGEHAND,
                        &format!("role comms <@{LEAD}>"),
                        EntryKind::RoleAssigned,
                    )
                    .await;
            }
        }
        Action::Resolve => {
            stage.set_status(Status::Investigating).await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "resolve").await;
            a.entry(EntryKind::Resolved).await;
        }
        Action::Reopen => {
            stage.set_status(Status::Resolved).await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "status investigating").await;
            a.entry(EntryKind::Reopened).await;
        }
        Action::EscalateAws => {
            // A case is open: an allowed caller is told so (the first one opened it).
            stage.ensure_case_open().await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, "escalate aws").await;
            a.told("already open").await;
        }
        Action::AwsReply => {
            stage.ensure_case_open().await;
            let a = Attempt::new(stage, action, u, expect).await;
            run(stage, u, &format!("aws reply {u} here: still failing")).await;
            a.entry(EntryKind::SupportMessage).await;
        }
        Action::DraftPostmortemButton => {
            // The resolve notice carries the button; resolving posts one.
            let draft = warroom::slack::render::DRAFT_POSTMORTEM_ACTION;
            let notice = match stage.with_button(draft) {
                Some(m) => m,
                None => {
                    stage.set_status(Status::Resolved).await;
                    let m = stage.wait_button(draft).await;
                    stage.set_status(Status::Investigating).await;
                    m
                }
            };
            let files = stage.world.emu.files(&stage.ch).len();
            let a = Attempt::new(stage, action, u, expect).await;
            stage
                .click(u, &notice, warroom::slack::render::DRAFT_POSTMORTEM_ACTION)
                .await;
            if expect {
                let ch = stage.ch.clone();
                stage
                    .world
                    .emu
                    .wait_until(DEADLINE, |ws| {
                        (ws.files
                            .iter()
                            .filter(|f| f.channel.as_deref() == Some(&ch))
                            .count()
                            > files)
                            .then_some(())
                    })
                    .await
                    .expect("a postmortem draft");
            } else {
                a.refused().await;
            }
        }
        Action::SnoozeButton => {
            stage.enter(Room::Nudges).await;
            let nudge = stage.case_nudge().await;
            let a = Attempt::new(stage, action, u, expect).await;
            stage.click(u, &nudge, ui::SNOOZE_ACTION).await;
            a.entry(EntryKind::Snoozed).await;
        }
        Action::NotAwsButton => {
            stage.enter(Room::Nudges).await;
            let nudge = stage.case_nudge().await;
            let a = Attempt::new(stage, action, u, expect).await;
            stage.click(u, &nudge, ui::NOT_AWS_ACTION).await;
            a.entry(EntryKind::AwsInvolvement).await;
        }
        Action::OpenCaseButton => {
            stage.enter(Room::Nudges).await;
            let nudge = stage.case_nudge().await;
            let a = Attempt::new(stage, action, u, expect).await;
            stage.click(u, &nudge, ui::OPEN_CASE_ACTION).await;
            if expect {
                let user = u.to_string();
                stage
                    .world
                    .emu
                    .wait_until(DEADLINE, |ws| {
                        (ws.views_opened.iter().filter(|v| v.user == user).count() > a.views)
                            .then_some(())
                    })
                    .await
                    .expect("the case form opens");
            } else {
                a.refused().await;
            }
        }
        Action::CaseForm => unreachable!("the case form is tried a row at a time"),
        Action::ResolveCaseButton => {
            stage.enter(Room::Main).await;
            let prompt = stage.resolve_case_prompt().await;
            let case = stage.open_case().await.expect("an open case");
            let a = Attempt::new(stage, action, u, expect).await;
            stage.click(u, &prompt, ui::RESOLVE_CASE_ACTION).await;
            if expect {
                // Resolved at AWS and on record. (The Support poller may see it resolved at
                // AWS a moment before the click is recorded, and record it without a name.)
                let what = format!("{}: the case to be closed", a.label());
                wait_until(DEADLINE, &what, async || {
                    warroom::store::escalation::case_by_row(stage.store.db(), case.row)
                        .await
                        .unwrap()
                        .is_some_and(|c| !c.is_open())
                })
                .await;
                let at_aws = stage.aws.support_cases();
                let id = case.case_id.as_deref().expect("a case id");
                assert!(
                    at_aws
                        .iter()
                        .any(|c| c.case_id == id && c.status == "resolved"),
                    "{}: {at_aws:?}",
                    a.label()
                );
            } else {
                a.refused().await;
                let row = warroom::store::escalation::case_by_row(stage.store.db(), case.row)
                    .await
                    .unwrap();
                assert!(row.is_some_and(|c| c.is_open()), "{}", a.label());
            }
            stage.set_status(Status::Investigating).await;
        }
        Action::ChecklistTickButton => {
            // The next step nobody ticked: on every version of the message it has a button.
            let tick = warroom::slack::render_checklist::TICK_ACTION;
            let list = stage.wait_button(tick).await;
            let id = stage.incident().await.incident.id;
            let done = warroom::store::timeline::of_incident(stage.store.db(), id)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.kind == EntryKind::ChecklistStep)
                .count();
            let a = Attempt::new(stage, action, u, expect).await;
            stage
                .world
                .emu
                .click_button_valued(u, &stage.ch, &list.ts, tick, Some(&(done + 1).to_string()))
                .await
                .expect("click acked");
            a.entry(EntryKind::ChecklistStep).await;
        }
        Action::KeepOpenButton => {
            // A fresh resolve (a minute after the last: a resolve of its own) posts a
            // fresh warning, whose archive is pending.
            let keep = warroom::slack::render::KEEP_OPEN_ACTION;
            let old = stage.with_button(keep).map(|m| m.ts);
            stage.set_status(Status::Investigating).await;
            stage.advance(Duration::minutes(1));
            stage.set_status(Status::Resolved).await;
            let warning = wait_until_some(DEADLINE, "a fresh keep-open warning", async || {
                let m = stage.wait_button(keep).await;
                (Some(&m.ts) != old.as_ref()).then_some(m)
            })
            .await;
            let a = Attempt::new(stage, action, u, expect).await;
            stage.click(u, &warning, keep).await;
            a.entry(EntryKind::ChannelArchive).await;
            stage.set_status(Status::Investigating).await;
        }
    }
}

/// The case form, submitted by every kind of caller. A form is only ever submitted by the
/// person it was opened for, who was allowed to open it: so each caller opens it while in
/// the support group and leaves the group before submitting, and the checkpoint judges the
/// submission on its own. Every form is opened before the first is submitted (a case, once
/// open, ends the nudge whose button opens the form).
async fn try_case_forms(stage: &mut Stage) -> usize {
    stage.enter(Room::Form).await;
    let nudge = stage.case_nudge().await;
    let mut forms = Vec::new();
    for kind in Kind::ALL {
        let user = stage.actor(kind);
        let u = user.as_str();
        let joined = !stage.support.iter().any(|s| s == u);
        if joined {
            stage.support.push(user.clone());
            stage.set_support_group();
        }
        let views = stage.world.emu.views_opened(u).len();
        stage.click(u, &nudge, ui::OPEN_CASE_ACTION).await;
        let view = stage
            .world
            .emu
            .wait_until(DEADLINE, |ws| {
                let mine: Vec<_> = ws.views_opened.iter().filter(|v| v.user == user).collect();
                (mine.len() > views).then(|| mine[mine.len() - 1].view_id.clone())
            })
            .await
            .expect("the case form opens");
        if joined {
            stage.support.retain(|s| s != u);
            stage.set_support_group();
        }
        forms.push((kind, user, view));
    }
    for (kind, user, view) in &forms {
        let u = user.as_str();
        let expect = allowed(Action::CaseForm, &RoleSet::of(kind.role()));
        let had_case = stage.open_case().await.is_some();
        let a = Attempt::new(stage, Action::CaseForm, u, expect).await;
        stage
            .world
            .emu
            .submit_view(u, view, json!({}))
            .await
            .expect("submission acked");
        if !expect {
            a.refused().await;
            continue;
        }
        // The first allowed caller opens the case; the others are told it is open.
        if !had_case {
            a.entry(EntryKind::SupportCase).await;
        } else {
            a.told("already open").await;
        }
    }
    forms.len()
}

#[tokio::test]
async fn every_action_by_every_kind_of_actor_is_decided_by_the_table() {
    let mut stage = Stage::new().await;
    let mut tried = 0;
    for action in Action::all() {
        if action == Action::CaseForm {
            tried += try_case_forms(&mut stage).await;
            continue;
        }
        for kind in Kind::ALL {
            try_action(&mut stage, action, kind).await;
            tried += 1;
        }
    }
    assert_eq!(
        tried,
        warroom::domain::authorization::TABLE.len() * Kind::ALL.len()
    );
    stage.app.stop().await.expect("bot stops");
}
