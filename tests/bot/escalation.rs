//! Escalation to AWS Support: nudges on a hand-moved clock, the case modal and
//! `/incident escalate aws` against moto (CreateCase/DescribeCases/ResolveCase) and the
//! fake's DescribeCommunications/AddCommunicationToCase, AWS replies mirrored once, the
//! AWS-quiet and stale-update nudges, permissions and the failure paths.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use warroom::app::App;
use warroom::clock::{Clock, ManualClock};
use warroom::domain::EntryKind;
use warroom::slack::render_support as ui;
use warroom::store::Store;

use crate::helpers::*;

/// The bot with `[escalation]`: case nudge after 30m (SEV1 after 15m), repeat every 15m,
/// no stale-update nudges unless `update_every` is given, Support polled every minute.
async fn start(
    world: &World,
    clock: &ManualClock,
    aws: Option<&Aws>,
    update_every: Option<std::time::Duration>,
) -> App {
    let fake = aws.map(|aws| &aws.fake);
    let clock = Arc::new(clock.clone());
    world
        .start_aws_bot(fake, clock, Connect::OneMore, |config| {
            escalate(config);
            let e = &mut config.escalation;
            e.aws_support_after_by_severity = [(
                warroom::domain::Severity::Sev1,
                std::time::Duration::from_secs(15 * 60),
            )]
            .into();
            e.update_every = update_every;
            e.support_poll_interval = std::time::Duration::from_secs(60);
            e.cc_email_addresses = vec!["oncall@example.com".into()];
            e.support_usergroup = Some("S0AWSADMIN".into());
        })
        .await
}

/// Move the bot's clock and wake its scheduler.
fn advance(app: &App, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    app.service.kick_timers();
}

const CASE_NUDGE: &str = "no AWS Support case is open";

/// The pending nudge timers of `kind` (due times), from the database.
async fn pending_nudges(store: &Store, kind: &str) -> Vec<DateTime<Utc>> {
    warroom::store::timers::pending_of_kind(store.db(), "nudge")
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.payload.contains(&format!("\"{kind}\"")))
        .map(|t| t.due_at)
        .collect()
}

/// Wait until the clock of `kind` has a pending look; returns the due times.
async fn wait_pending(store: &Store, kind: &str) -> Vec<DateTime<Utc>> {
    wait_until_some(
        DEADLINE,
        &format!("the {kind} clock to be armed"),
        async || {
            let due = pending_nudges(store, kind).await;
            (!due.is_empty()).then_some(due)
        },
    )
    .await
}

/// Wait until the clock of `kind` has no pending look before `now` (the scheduler has
/// handled every due one) and the outbox has delivered what they produced: a nudge is
/// committed with the claim of its timer and posted afterwards, so "no such post" means
/// "no such nudge" only then.
async fn wait_settled(store: &Store, kind: &str, now: DateTime<Utc>) {
    wait_until(
        DEADLINE,
        &format!("the due {kind} timers to settle"),
        async || !pending_nudges(store, kind).await.iter().any(|d| *d <= now),
    )
    .await;
    wait_outbox_drained(store).await;
}

/// Move the clock `n` times by the Support poll interval (a minute), waiting each time for
/// the poll it triggers to reach AWS. The poller is one loop, so once poll `k + 1` has asked
/// for the correspondence, everything poll `k` found is recorded (and in the outbox).
async fn support_polls(app: &App, clock: &ManualClock, aws: &Aws, n: usize) {
    for _ in 0..n {
        // Counted before the clock moves, so the poll it triggers cannot be missed.
        let before = aws.fake.call_count("DescribeCommunications");
        advance(app, clock, Duration::minutes(1));
        wait_until_sync(DEADLINE, "the next Support poll", || {
            aws.fake.call_count("DescribeCommunications") != before
        })
        .await;
    }
}

/// Declare (SEV2), then say AWS is involved: the case clock starts at the declare.
async fn aws_incident(world: &World) -> String {
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    assert_eq!(world.command(ALICE, &ch, "aws yes").await, None);
    wait_posts(world, &ch, "says AWS is involved", 1).await;
    ch
}

#[tokio::test]
async fn the_case_nudge_fires_once_at_the_deadline_then_repeats_until_someone_acts() {
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start(&world, &clock, None, None).await;
    let store = world.store().await;
    let opened = clock.now();
    let ch = aws_incident(&world).await;

    // Armed for the SEV2 target, and nothing posted before it.
    let due = wait_pending(&store, "open_case").await;
    assert_eq!(
        due,
        vec![opened + Duration::minutes(30)],
        "one look, at the deadline"
    );
    advance(&app, &clock, Duration::minutes(29));
    wait_settled(&store, "open_case", clock.now()).await;
    assert!(bot_posts(&world, &ch, CASE_NUDGE).is_empty());

    advance(&app, &clock, Duration::minutes(1));
    let nudges = wait_posts(&world, &ch, CASE_NUDGE, 1).await;
    let text = shown(&nudges[0]);
    assert!(text.contains("running for *30m*"), "{text}");
    assert!(text.contains("The target for SEV2 is 30m"), "{text}");
    // The lead (the declarer, until someone else takes over) is mentioned.
    assert!(
        nudges[0].text.contains(&format!("<@{ALICE}>")),
        "{}",
        nudges[0].text
    );
    let buttons: Vec<String> = nudges[0].blocks.as_ref().unwrap()[1]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        buttons,
        ["Open AWS Support case", "Snooze 30m", "Not an AWS issue"]
    );
    assert_eq!(count_kind(&store, &ch, EntryKind::Nudge).await, 1);

    // Repeats every 15 minutes, once each time.
    advance(&app, &clock, Duration::minutes(14));
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 1);
    advance(&app, &clock, Duration::minutes(1));
    wait_posts(&world, &ch, CASE_NUDGE, 2).await;

    // With a lead, only the lead is mentioned.
    world.command(ALICE, &ch, &format!("lead <@{DAVE}>")).await;
    wait_timeline(&store, &ch, "the lead change", |e| {
        e.iter().any(|e| e.kind == EntryKind::LeadChanged)
    })
    .await;
    advance(&app, &clock, Duration::minutes(15));
    let third = wait_posts(&world, &ch, CASE_NUDGE, 3).await;
    let last = &third[2].text;
    assert!(
        last.contains(&format!("<@{DAVE}>")) && !last.contains(&format!("<@{ALICE}>")),
        "{last}"
    );
    assert_eq!(count_kind(&store, &ch, EntryKind::Nudge).await, 3);
    assert_eq!(app.metrics.nudges_of("open_case"), 3);
    stop(&world, app).await;
}

/// Wait until the bot's message `ts` has no buttons left; its blocks as JSON text.
async fn answered(world: &World, channel: &str, ts: &str) -> String {
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let m = ws.messages.get(channel)?.iter().find(|m| m.ts == ts)?;
            let blocks = m.blocks.as_ref()?.as_array()?;
            (!blocks.iter().any(|b| b["type"] == "actions")).then(|| Value::from(blocks.clone()))
        })
        .await
        .expect("the answered prompt loses its buttons")
        .to_string()
}

#[tokio::test]
async fn snooze_moves_the_nudge_and_not_an_aws_issue_stops_it() {
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start(&world, &clock, None, None).await;
    let store = world.store().await;
    let ch = aws_incident(&world).await;
    advance(&app, &clock, Duration::minutes(30));
    let nudge = wait_posts(&world, &ch, CASE_NUDGE, 1).await.remove(0);

    // Snooze 30m from the button: the 15-minute repeat does not come; the nudge returns
    // when the snooze ends.
    world
        .emu
        .click_button(CAROL, &ch, &nudge.ts, ui::SNOOZE_ACTION)
        .await
        .expect("click acked");
    wait_posts(&world, &ch, "snoozed warroom's nudges", 1).await;
    assert_eq!(count_kind(&store, &ch, EntryKind::Snoozed).await, 1);
    // The answered nudge is redrawn without its buttons, with the answer under it.
    let redrawn = answered(&world, &ch, &nudge.ts).await;
    assert!(redrawn.contains(CASE_NUDGE), "{redrawn}");
    assert!(redrawn.contains("snoozed warroom's nudges"), "{redrawn}");
    advance(&app, &clock, Duration::minutes(15));
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 1, "snoozed");
    advance(&app, &clock, Duration::minutes(15));
    let again = wait_posts(&world, &ch, CASE_NUDGE, 2).await;

    // /incident snooze does the same.
    assert_eq!(world.command(BOB, &ch, "snooze 1h").await, None);
    // On the timeline (the answered nudge above also shows "snoozed", so posts can't tell).
    wait_timeline(&store, &ch, "the second snooze", |e| {
        e.iter().filter(|e| e.kind == EntryKind::Snoozed).count() == 2
    })
    .await;
    advance(&app, &clock, Duration::minutes(59));
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 2);

    // "Not an AWS issue" stops the clock for good.
    world
        .emu
        .click_button(BOB, &ch, &again[1].ts, ui::NOT_AWS_ACTION)
        .await
        .expect("click acked");
    wait_posts(&world, &ch, "says this is not an AWS issue", 1).await;
    let redrawn = answered(&world, &ch, &again[1].ts).await;
    assert!(
        redrawn.contains("says this is not an AWS issue"),
        "{redrawn}"
    );
    for _ in 0..4 {
        advance(&app, &clock, Duration::minutes(15));
    }
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 2);
    assert!(pending_nudges(&store, "open_case").await.is_empty());
    assert_eq!(count_kind(&store, &ch, EntryKind::AwsInvolvement).await, 2);

    // Without AWS evidence or a "yes", no case nudge at all.
    let quiet = world.declare(ALICE, "Office wifi down sev1").await;
    advance(&app, &clock, Duration::hours(2));
    wait_settled(&store, "open_case", clock.now()).await;
    assert!(bot_posts(&world, &quiet, CASE_NUDGE).is_empty());
    stop(&world, app).await;
}

async fn a_nudge_due_while_the_bot_was_down_fires_once_after_the_restart(world: World) {
    let clock = whole_minute_clock();
    let app = start(&world, &clock, None, None).await;
    let ch = aws_incident(&world).await;
    stop(&world, app).await;

    // The deadline passes while the bot is down.
    clock.advance(Duration::minutes(31));
    let app = start(&world, &clock, None, None).await;
    wait_posts(&world, &ch, CASE_NUDGE, 1).await;
    let store = world.store().await;
    wait_settled(&store, "open_case", clock.now()).await;
    stop(&world, app).await;

    // A second restart before the repeat is due: nothing is posted again.
    let app = start(&world, &clock, None, None).await;
    app.service.kick_timers();
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 1);
    assert_eq!(count_kind(&store, &ch, EntryKind::Nudge).await, 1);
    stop(&world, app).await;
}

/// Click "Open AWS Support case" on the first nudge and return the opened modal.
async fn open_modal(world: &World, ch: &str, user: &str) -> warroom::slack_emulator::OpenedView {
    let nudge = wait_posts(world, ch, CASE_NUDGE, 1).await.remove(0);
    world
        .emu
        .click_button(user, ch, &nudge.ts, ui::OPEN_CASE_ACTION)
        .await
        .expect("click acked");
    let u = user.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.views_opened.iter().find(|v| v.user == u).cloned()
        })
        .await
        .expect("the case modal opens")
}

#[tokio::test]
async fn the_modal_opens_a_case_with_the_drafted_body_and_aws_replies_are_mirrored_once() {
    let aws = Aws::start().await;
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start(&world, &clock, Some(&aws), None).await;
    let store = world.store().await;
    let ch = world
        .declare(ALICE, "Checkout errors in eu-west-1 sev1")
        .await;
    world.command(ALICE, &ch, "aws yes").await;
    world
        .command(ALICE, &ch, "update 30% of EU checkouts fail since 10:00")
        .await;
    world
        .command(
            BOB,
            &ch,
            "note Failed over the payments DB to its replica; errors continue",
        )
        .await;
    wait_timeline(&store, &ch, "the note", |e| {
        e.iter().any(|e| e.kind == EntryKind::Note)
    })
    .await;
    advance(&app, &clock, Duration::minutes(15));

    // The modal is prefilled from the incident; submitting it unchanged opens the case.
    let modal = open_modal(&world, &ch, BOB).await;
    let blocks = modal.view["blocks"].as_array().unwrap();
    let initial = |block: &str| -> String {
        blocks
            .iter()
            .find(|b| b["block_id"] == block)
            .map(|b| {
                b["element"]["initial_value"]
                    .as_str()
                    .or_else(|| b["element"]["initial_option"]["value"].as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default()
    };
    assert!(initial(ui::field::SUBJECT).ends_with("Checkout errors in eu-west-1"));
    assert_eq!(
        initial(ui::field::SEVERITY),
        "urgent",
        "SEV1 maps to urgent"
    );
    world
        .emu
        .submit_view(BOB, &modal.view_id, json!({}))
        .await
        .expect("submission acked");
    let opened = wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    let cases = aws.fake.support_cases();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case.severity, "urgent");
    assert_eq!(case.cc, vec!["oncall@example.com".to_string()]);
    for want in [
        "Incident: Checkout errors in eu-west-1",
        "30% of EU checkouts fail since 10:00",
        "Failed over the payments DB to its replica",
        "UTC",
    ] {
        assert!(
            case.body.contains(want),
            "case body lacks {want:?}:\n{}",
            case.body
        );
    }
    let display = case
        .display_id
        .clone()
        .unwrap_or_else(|| case.case_id.clone());
    assert!(opened[0].text.contains(&display), "{}", opened[0].text);
    assert!(opened[0]
        .text
        .contains("https://support.console.aws.amazon.com/support/home#/case/"));
    assert_eq!(count_kind(&store, &ch, EntryKind::SupportCase).await, 1);
    // A case is open: no more "open a case" nudges.
    advance(&app, &clock, Duration::minutes(30));
    wait_settled(&store, "open_case", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, CASE_NUDGE).len(), 1);
    // Anyone looking across incidents sees the case, and for how long AWS has been silent.
    let case_line = format!("AWS case {display} (urgent)");
    let list = world.command(CAROL, &ch, "list").await.unwrap_or_default();
    assert!(
        list.contains(&format!("{case_line} waiting on AWS for 30m")),
        "{list}"
    );

    // AWS replies, with an attachment and a would-be ping: mirrored once, escaped.
    aws.fake.add_support_reply(
        &case.case_id,
        "We see elevated errors on your RDS instance <!channel>. Logs attached.",
        clock.now(),
        &["rds-events.log"],
    );
    advance(&app, &clock, Duration::minutes(1));
    let replies = wait_posts(&world, &ch, "AWS Support replied", 1).await;
    assert!(
        replies[0].text.contains("&lt;!channel&gt;"),
        "{}",
        replies[0].text
    );
    assert!(!replies[0].text.contains("<!channel>"));
    assert!(replies[0].text.contains("rds-events.log"));
    let list = world.command(CAROL, &ch, "list").await.unwrap_or_default();
    assert!(
        list.contains(&format!("{case_line} answered by AWS")),
        "{list}"
    );
    stop(&world, app).await;

    // After a restart and more polls, still exactly one copy.
    let app = start(&world, &clock, Some(&aws), None).await;
    support_polls(&app, &clock, &aws, 3).await;
    wait_outbox_drained(&store).await;
    assert_eq!(bot_posts(&world, &ch, "AWS Support replied").len(), 1);
    assert_eq!(count_kind(&store, &ch, EntryKind::AwsReply).await, 1);

    // /incident aws reply goes to AWS and is not mirrored back as someone else's message.
    assert_eq!(
        world
            .command(
                BOB,
                &ch,
                "aws reply Failover done at 10:40; errors persist on the new primary"
            )
            .await,
        None
    );
    wait_posts(&world, &ch, "replied on AWS case", 1).await;
    let list = world.command(CAROL, &ch, "list").await.unwrap_or_default();
    assert!(
        list.contains(&format!("{case_line} waiting on AWS for 0m")),
        "our reply waits for AWS again: {list}"
    );
    assert_eq!(
        aws.fake.support_replies_sent(&case.case_id),
        vec!["Failover done at 10:40; errors persist on the new primary".to_string()]
    );
    // Two polls: the second one asking AWS means the first, which saw the reply, is done.
    support_polls(&app, &clock, &aws, 2).await;
    wait_outbox_drained(&store).await;
    assert!(bot_posts(&world, &ch, "outside Slack").is_empty());
    assert_eq!(
        count_kind(&store, &ch, EntryKind::SupportMessage).await,
        1,
        "only the reply as sent from Slack"
    );

    // /incident aws status: the case as AWS shows it, to the caller.
    let seen = world.ephemeral_count(BOB);
    world.command(BOB, &ch, "aws status").await;
    let status = world.ephemeral_after(BOB, seen).await;
    assert!(status.contains("status *opened*"), "{status}");
    assert!(status.contains("Last reply from AWS"), "{status}");

    // Resolving the incident offers to resolve the case; the button does it.
    world.command(ALICE, &ch, "resolve fixed by AWS").await;
    let prompt = wait_posts(&world, &ch, "is still open", 1).await.remove(0);
    world
        .emu
        .click_button(ALICE, &ch, &prompt.ts, ui::RESOLVE_CASE_ACTION)
        .await
        .expect("click acked");
    wait_posts(&world, &ch, "resolved AWS Support case", 1).await;
    assert_eq!(aws.fake.support_cases()[0].status, "resolved");
    stop(&world, app).await;
}

#[tokio::test]
async fn aws_going_quiet_on_a_case_is_nudged_on_its_severity_target() {
    let aws = Aws::start().await;
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start(&world, &clock, Some(&aws), None).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Queue backlog sev2").await;
    assert_eq!(world.command(BOB, &ch, "escalate aws urgent").await, None);
    wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    let case_id = aws.fake.support_cases()[0].case_id.clone();

    // urgent: AWS's target is 1h.
    advance(&app, &clock, Duration::minutes(59));
    wait_settled(&store, "aws_quiet", clock.now()).await;
    assert!(bot_posts(&world, &ch, "silent for").is_empty());
    advance(&app, &clock, Duration::minutes(1));
    let quiet = wait_posts(&world, &ch, "silent for", 1).await;
    let text = shown(&quiet[0]);
    assert!(text.contains("silent for 1h 0m*"), "{text}");
    assert!(text.contains("chat or phone"), "{text}");

    // AWS answers: the clock stops until the customer writes again.
    aws.fake
        .add_support_reply(&case_id, "Looking into it.", clock.now(), &[]);
    advance(&app, &clock, Duration::minutes(1));
    wait_posts(&world, &ch, "AWS Support replied", 1).await;
    advance(&app, &clock, Duration::hours(2));
    wait_settled(&store, "aws_quiet", clock.now()).await;
    assert_eq!(bot_posts(&world, &ch, "silent for").len(), 1);
    stop(&world, app).await;
}

#[tokio::test]
async fn only_the_response_team_may_open_a_case_and_failures_are_explained() {
    let aws = Aws::start().await;
    let world = World::new().await;
    world.emu.add_user("U0AWSADMIN1", "awsadmin");
    world
        .emu
        .add_usergroup("S0AWSADMIN", "aws-admins", &["U0AWSADMIN1"]);
    let clock = whole_minute_clock();
    let app = start(&world, &clock, Some(&aws), None).await;
    let ch = aws_incident(&world).await;
    world.emu.join_channel(&ch, DAVE);
    world.emu.join_channel(&ch, "U0AWSADMIN1");
    advance(&app, &clock, Duration::minutes(30));
    let nudge = wait_posts(&world, &ch, CASE_NUDGE, 1).await.remove(0);

    // Dave is in the channel but neither lead, responder nor in the AWS admins group.
    let seen = world.ephemeral_count(DAVE);
    world
        .emu
        .click_button(DAVE, &ch, &nudge.ts, ui::OPEN_CASE_ACTION)
        .await
        .expect("click acked");
    let refusal = world.ephemeral_after(DAVE, seen).await;
    assert!(
        refusal.contains("Only the incident lead, its responders"),
        "{refusal}"
    );
    assert!(world.emu.views_opened(DAVE).is_empty());
    let seen = world.ephemeral_count(DAVE);
    world.command(DAVE, &ch, "escalate aws").await;
    let refusal = world.ephemeral_after(DAVE, seen).await;
    assert!(refusal.contains("may open AWS Support cases"), "{refusal}");
    assert!(aws.fake.support_cases().is_empty());

    // No Business support plan: the channel is told why and what to do instead.
    aws.fake.require_subscription(true);
    world.command("U0AWSADMIN1", &ch, "escalate aws").await;
    let failed = wait_posts(&world, &ch, "could not be opened", 1).await;
    let text = shown(&failed[0]);
    assert!(
        text.contains("Business, Enterprise On-Ramp or Enterprise"),
        "{text}"
    );
    assert!(text.contains("Support Center"), "{text}");
    aws.fake.require_subscription(false);

    // Throttled: the channel hears it is being retried, and the retry opens one case.
    // Three failures: the SDK's own retries (3 attempts) give up and warroom takes over.
    aws.fake
        .fail_support("CreateCase", "ThrottlingException", 3);
    world.command(BOB, &ch, "escalate aws high").await;
    wait_posts(&world, &ch, "keeps trying", 1).await;
    advance(&app, &clock, Duration::seconds(20));
    wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    let cases = aws.fake.support_cases();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].severity, "high");
    stop(&world, app).await;
}

#[tokio::test]
async fn a_stale_stakeholder_update_is_nudged_and_an_update_resets_the_clock() {
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start(
        &world,
        &clock,
        None,
        Some(std::time::Duration::from_secs(3600)),
    )
    .await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Search is slow sev3").await;
    world.command(ALICE, &ch, &format!("lead <@{BOB}>")).await;
    wait_timeline(&store, &ch, "the lead change", |e| {
        e.iter().any(|e| e.kind == EntryKind::LeadChanged)
    })
    .await;
    wait_pending(&store, "stale_update").await;
    advance(&app, &clock, Duration::minutes(60));
    let nudge = wait_posts(&world, &ch, "No stakeholder update", 1).await;
    assert!(
        nudge[0].text.contains(&format!("<@{BOB}>")),
        "{}",
        nudge[0].text
    );

    world
        .command(BOB, &ch, "update Search p99 is 4s; we are adding capacity")
        .await;
    wait_posts(&world, &ch, "adding capacity", 1).await;
    advance(&app, &clock, Duration::minutes(59));
    wait_settled(&store, "stale_update", clock.now()).await;
    assert!(bot_posts(&world, &ch, "The last stakeholder update was").is_empty());
    advance(&app, &clock, Duration::minutes(1));
    wait_posts(&world, &ch, "The last stakeholder update was 1h 0m ago", 1).await;
    stop(&world, app).await;
}

on_both_backends!(a_nudge_due_while_the_bot_was_down_fires_once_after_the_restart);
