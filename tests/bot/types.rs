//! Incident types and checklists (issue 18 part 4): `type:<name>` on declare, the type's
//! severity, people and roles to fill, the checklist with a "Done" button per step, ticks
//! recorded with who and when (once), kept across a restart, in the catch-up and in the
//! postmortem drawn with the type's own template.

use std::sync::Arc;

use warroom::clock::SystemClock;
use warroom::config::Config;
use warroom::domain::incident_type::{IncidentType, Step};
use warroom::domain::{EntryKind, Severity, UserId};
use warroom::slack::render_checklist::TICK_ACTION;
use warroom::slack_emulator::Message;

use crate::helpers::*;

/// Step 2 says something that would ping everyone if it were not escaped.
const PING: &str = "Tell <!channel> & the CISO";

fn security_type() -> IncidentType {
    IncidentType {
        name: "security".into(),
        severity: Severity::Sev1,
        private: false,
        responders: vec![UserId::parse(DAVE).unwrap()],
        usergroup: None,
        roles: vec!["comms".into(), "scribe".into()],
        checklist: vec![
            Step {
                text: "Page the security team".into(),
                runbook: Some("https://wiki.example/security/page".into()),
            },
            Step {
                text: PING.into(),
                runbook: None,
            },
            Step {
                text: "Rotate the leaked keys".into(),
                runbook: None,
            },
        ],
        postmortem_template: Some("security.md.tera".into()),
    }
}

fn with_types(config: &mut Config) {
    config.incident.types = vec![security_type()];
}

/// The bot's checklist messages in `channel`, oldest first, once there are `n`.
async fn checklists(world: &World, channel: &str, n: usize) -> Vec<Message> {
    let bot = world.emu.config().bot_user_id.clone();
    let ch = channel.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let found: Vec<Message> = ws
                .messages
                .get(&ch)?
                .iter()
                .filter(|m| m.user == bot && m.text.starts_with("Checklist for incident"))
                .cloned()
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} checklist messages: {e}"))
}

/// Wait until the message `ts` in `channel` shows every one of `words`.
async fn wait_message(world: &World, channel: &str, ts: &str, words: &[&str]) -> Message {
    let (ch, ts) = (channel.to_string(), ts.to_string());
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&ch)?
                .iter()
                .find(|m| m.ts == ts)
                .filter(|m| {
                    let raw = format!("{} {:?}", shown(m), m.blocks);
                    words.iter().all(|w| raw.contains(w.as_str()))
                })
                .cloned()
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for the message to show {words:?}: {e}"))
}

async fn tick(world: &World, user: &str, channel: &str, m: &Message, step: &str) {
    world
        .emu
        .click_button_valued(user, channel, &m.ts, TICK_ACTION, Some(step))
        .await
        .expect("click acked");
}

fn buttons(m: &Message) -> usize {
    m.blocks
        .as_ref()
        .map_or(0, |b| b.to_string().matches(TICK_ACTION).count())
}

/// Declare with a type: its severity, its responder invited, its roles shown unfilled, the
/// checklist posted with a button per step and the step text escaped. Ticking records who
/// and when as a key event and redraws the message; two people ticking the same step at
/// once record it once; a restart keeps the ticks and does not post the checklist again;
/// the catch-up lists what is still open; the postmortem is drawn with the type's template
/// and lists steps done and not done.
async fn a_typed_incident_runs_its_checklist_and_keeps_it(world: World) {
    let app = world
        .start_bot_with(Arc::new(SystemClock), with_types)
        .await;
    let channel = world.declare(ALICE, "Leaked key type:security").await;

    let header = world
        .wait_header(
            &channel,
            &[
                "SEV1",
                "*Type*: security",
                "comms: _unfilled_",
                "scribe: _unfilled_",
            ],
        )
        .await;
    assert!(header.contains("Leaked key"), "{header}");
    assert!(
        world
            .emu
            .channels()
            .iter()
            .any(|c| c.id == channel && c.members.iter().any(|m| m == DAVE)),
        "the type's responder is invited"
    );
    let store = world.store().await;
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident_type.as_deref(), Some("security"));
    assert_eq!(record.incident.title, "Leaked key");

    let list = checklists(&world, &channel, 1).await.remove(0);
    assert_eq!(buttons(&list), 3);
    let raw = list.blocks.as_ref().unwrap().to_string();
    assert!(!raw.contains("<!channel>"), "escaped: {raw}");
    assert!(raw.contains("&lt;!channel&gt; &amp; the CISO"), "{raw}");
    assert!(raw.contains("<https://wiki.example/security/page|runbook>"));
    assert!(list.text.contains("0 of 3 done"));

    // Carol (a responder) ticks step 2: recorded with who and when, the message redrawn.
    tick(&world, CAROL, &channel, &list, "2").await;
    let after = wait_message(&world, &channel, &list.ts, &["1 of 3 done", "<@U0CAROL>"]).await;
    assert_eq!(buttons(&after), 2);
    let entries = wait_timeline(&store, &channel, "the tick", |e| {
        e.iter().any(|e| e.kind == EntryKind::ChecklistStep)
    })
    .await;
    let ticked = entries
        .iter()
        .find(|e| e.kind == EntryKind::ChecklistStep)
        .unwrap();
    assert_eq!(ticked.actor.as_deref(), Some(CAROL));
    assert!(ticked.key_event);
    assert_eq!(ticked.text, format!("checklist step 2 done: {PING}"));

    // Alice and Bob tick step 1 at the same moment, both on the message as it stands:
    // one tick is recorded, the other is told who was first.
    let (a, b) = tokio::join!(
        world
            .emu
            .click_button_valued(ALICE, &channel, &after.ts, TICK_ACTION, Some("1")),
        world
            .emu
            .click_button_valued(BOB, &channel, &after.ts, TICK_ACTION, Some("1")),
    );
    a.expect("alice's click acked");
    b.expect("bob's click acked");
    wait_message(&world, &channel, &list.ts, &["2 of 3 done"]).await;
    let told = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.ephemerals
                .iter()
                .find(|e| e.text.contains("Step 1 is already done"))
                .map(|e| e.text.clone())
        })
        .await
        .expect("the second ticker is told");
    assert!(
        told.contains("<@U0ALICE>") || told.contains("<@U0BOB>"),
        "{told}"
    );
    let entries = warroom::store::timeline::of_incident(store.db(), record.incident.id)
        .await
        .unwrap();
    let step1: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::ChecklistStep && e.text.contains("step 1"))
        .collect();
    assert_eq!(step1.len(), 1, "{step1:?}");

    // The catch-up lists the step still open.
    world.command(DAVE, &channel, "catchup").await;
    let catchup = world
        .emu
        .ephemerals(DAVE)
        .last()
        .map(|e| warroom::slack::render::plain_text(&e.text, e.blocks.as_ref()))
        .expect("the catch-up is shown to Dave");
    let open = catchup
        .split("*Open checklist items* (2 of 3 done):\n")
        .nth(1)
        .and_then(|s| s.split("\n*").next())
        .unwrap_or_else(|| panic!("{catchup}"));
    assert_eq!(open, "3. Rotate the leaked keys", "{catchup}");

    // `/incident list` names the type after the title.
    let listed = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(listed.contains("Leaked key _(security)_"), "{listed}");

    // A restart keeps the ticks, and the checklist is not posted again.
    app.stop().await.unwrap();
    let app = world
        .start_bot_with(Arc::new(SystemClock), with_types)
        .await;
    tick(&world, DAVE, &channel, &list, "3").await;
    let all = wait_message(
        &world,
        &channel,
        &list.ts,
        &["3 of 3 done", "<@U0CAROL>", "<@U0DAVE>"],
    )
    .await;
    assert_eq!(buttons(&all), 0);
    assert_eq!(checklists(&world, &channel, 1).await.len(), 1);

    // The postmortem: the type's template, with the steps and who ticked them.
    world.command(ALICE, &channel, "resolve").await;
    world.command(ALICE, &channel, "postmortem").await;
    let file = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.files
                .iter()
                .find(|f| f.completed && f.channel.as_deref() == Some(channel.as_str()))
                .cloned()
        })
        .await
        .expect("the draft is uploaded");
    let md = String::from_utf8(file.bytes).unwrap();
    assert!(
        md.starts_with("# Security incident review: Leaked key"),
        "{md}"
    );
    assert!(md.contains("3 of 3 steps done"), "{md}");
    // Escaped for Markdown, with who ticked each step (by name) and when.
    assert!(
        md.contains("| 2 | Tell \\<!channel\\> \\& the CISO | "),
        "{md}"
    );
    assert!(
        md.contains(" | carol |") && md.contains(" | dave |"),
        "{md}"
    );
    app.stop().await.unwrap();
}

on_both_backends!(a_typed_incident_runs_its_checklist_and_keeps_it);

/// An unknown type is a usage error shown to the caller alone, listing the types; nothing
/// is declared. The postmortem of an incident without the type's template lists steps done
/// and not done in the default draft.
#[tokio::test]
async fn an_unknown_type_is_refused_to_the_caller_with_the_types() {
    let world = World::new().await;
    let app = world
        .start_bot_with(Arc::new(SystemClock), with_types)
        .await;
    let before = world.emu.channels().len();
    let answer = world
        .command(ALICE, &world.ops, "declare Leak type:secuirty")
        .await
        .expect("answered in the ack");
    assert!(
        answer.contains("there is no incident type \"secuirty\""),
        "{answer}"
    );
    assert!(answer.contains("the types are security"), "{answer}");
    assert!(answer.contains("/incident declare"), "{answer}");
    assert_eq!(world.emu.channels().len(), before, "nothing was declared");
    assert!(
        world.emu.messages(&world.ops).is_empty(),
        "nothing said in the channel"
    );
    app.stop().await.unwrap();
}

/// Without a postmortem_template, the default draft has the Checklist section: done with
/// who and when, not done. Without `sevN` the type's severity applies; with it, it wins.
#[tokio::test]
async fn the_default_postmortem_lists_steps_done_and_not_done() {
    let world = World::new().await;
    let app = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            let mut t = security_type();
            t.postmortem_template = None;
            c.incident.types = vec![t];
        })
        .await;
    let channel = world.declare(ALICE, "Odd logins sev3 type:security").await;
    world.wait_header(&channel, &["SEV3", "security"]).await;
    let list = checklists(&world, &channel, 1).await.remove(0);
    tick(&world, BOB, &channel, &list, "1").await;
    wait_message(&world, &channel, &list.ts, &["1 of 3 done"]).await;
    world.command(ALICE, &channel, "postmortem").await;
    let file = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.files
                .iter()
                .find(|f| f.completed && f.channel.as_deref() == Some(channel.as_str()))
                .cloned()
        })
        .await
        .expect("the draft is uploaded");
    let md = String::from_utf8(file.bytes).unwrap();
    assert!(md.starts_with("# Postmortem: Odd logins"), "{md}");
    let section = md
        .split("## Checklist")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Checklist section");
    assert!(section.contains("1 done, 2 not done"), "{section}");
    assert!(
        section.contains("| 1 | Page the security team"),
        "{section}"
    );
    assert!(section.contains("| bob |"), "{section}");
    assert!(
        section.contains("| 3 | Rotate the leaked keys | **not done** |"),
        "{section}"
    );
    app.stop().await.unwrap();
}

/// A checklist of 100 long steps full of characters that grow when escaped: split over
/// messages Slack accepts (the emulator refuses what Slack refuses), each step with its
/// button, and a tick on the last message redraws that message.
#[tokio::test]
async fn a_long_checklist_fits_slacks_limits() {
    let world = World::new().await;
    let long = format!("{} end", "<&> ".repeat(120));
    let app = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            let mut t = security_type();
            t.name = "big".into();
            t.checklist = (1..=100)
                .map(|i| Step {
                    text: format!("{i}: {long}"),
                    runbook: Some(format!("https://wiki.example/{}", "x".repeat(900))),
                })
                .collect();
            c.incident.types = vec![t];
        })
        .await;
    let channel = world.declare(ALICE, "Big one type:big").await;
    let parts = checklists(&world, &channel, 3).await;
    assert_eq!(parts.len(), 3);
    assert_eq!(parts.iter().map(buttons).sum::<usize>(), 100);
    let last = &parts[2];
    assert!(last.text.contains("0 of 100 done"));
    tick(&world, BOB, &channel, last, "100").await;
    let after = wait_message(&world, &channel, &last.ts, &["1 of 100 done", "<@U0BOB>"]).await;
    assert_eq!(buttons(&after), buttons(last) - 1);
    app.stop().await.unwrap();
}

/// `private = true` on a type makes a declare of it a private incident, without `--private`.
#[tokio::test]
async fn a_private_type_declares_a_private_incident() {
    let world = World::new().await;
    let _app = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            let mut t = security_type();
            t.private = true;
            c.incident.types = vec![t];
        })
        .await;
    let channel = world.declare(ALICE, "Leaked key XYZZY type:security").await;
    let ch = world.emu.channel(&channel).unwrap();
    assert!(ch.is_private, "{ch:?}");
    assert!(!ch.name.contains("leaked"), "{}", ch.name);
    world.wait_header(&channel, &["private", "SEV1"]).await;
    checklists(&world, &channel, 1).await;
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(
        list.contains("a private SEV1 incident") && !list.contains("XYZZY"),
        "{list}"
    );
}
