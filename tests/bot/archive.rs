//! Tidy-up (issue 18 part 6): a resolved incident's channel is archived `[incident]
//! archive_after` after its resolve, announced a day before with a "Keep open" button;
//! Keep open and a reopen cancel it; a restart in between archives once; off by default.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use warroom::app::App;
use warroom::clock::ManualClock;
use warroom::domain::EntryKind;
use warroom::slack::render::KEEP_OPEN_ACTION;
use warroom::slack_emulator::Message;

use crate::helpers::*;

fn t0() -> DateTime<Utc> {
    let now = Utc::now();
    Utc.timestamp_opt(now.timestamp() - now.timestamp() % 60, 0)
        .unwrap()
}

async fn start(world: &World, clock: &ManualClock, archive_after: Option<Duration>) -> App {
    start_with_status(world, clock, archive_after, None).await
}

async fn start_with_status(
    world: &World,
    clock: &ManualClock,
    archive_after: Option<Duration>,
    status: Option<&str>,
) -> App {
    world
        .start_bot_with(Arc::new(clock.clone()), |c| {
            c.incident.archive_after = archive_after.map(|d| d.to_std().unwrap());
            c.slack.status_channel = status.map(warroom::domain::ChannelId::new);
        })
        .await
}

fn advance(app: &App, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    app.service.kick_timers();
}

fn warnings(world: &World, ch: &str) -> Vec<Message> {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .messages(ch)
        .into_iter()
        .filter(|m| {
            m.user == bot
                && m.blocks
                    .as_ref()
                    .is_some_and(|b| b.to_string().contains(KEEP_OPEN_ACTION))
        })
        .collect()
}

async fn wait_warnings(world: &World, ch: &str, n: usize) -> Vec<Message> {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let found: Vec<Message> = ws
                .messages
                .get(ch)?
                .iter()
                .filter(|m| {
                    m.user == bot
                        && m.blocks
                            .as_ref()
                            .is_some_and(|b| b.to_string().contains(KEEP_OPEN_ACTION))
                })
                .cloned()
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
        .unwrap_or_else(|e| panic!("no archive warning #{n}: {e}"))
}

fn is_archived(world: &World, ch: &str) -> bool {
    world.emu.channel(ch).expect("the channel").is_archived
}

async fn wait_archived(world: &World, ch: &str) {
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channel(ch).filter(|c| c.is_archived).map(|_| ())
        })
        .await
        .expect("the channel is archived");
}

async fn resolve(world: &World, store: &warroom::store::Store, ch: &str, n: usize) {
    assert_eq!(world.command(ALICE, ch, "resolve").await, None);
    wait_timeline(store, ch, "the resolve", |e| {
        e.iter().filter(|e| e.kind == EntryKind::Resolved).count() >= n
    })
    .await;
}

async fn pending_archives(store: &warroom::store::Store) -> usize {
    warroom::store::timers::pending_of_kind(store.db(), "archive")
        .await
        .unwrap()
        .len()
}

/// Resolve → the warning a day before, with Keep open → a restart → the archive at its
/// time, once, on the timeline.
async fn a_resolved_channel_is_announced_then_archived_once_across_a_restart(world: World) {
    let clock = ManualClock::new(t0());
    let after = Duration::days(3);
    let status = world.bot_channel("incident-status");
    let app = start_with_status(&world, &clock, Some(after), Some(&status)).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    resolve(&world, &store, &ch, 1).await;
    let resolved_at = incident_in(&store, &ch)
        .await
        .incident
        .resolved_at
        .expect("resolved");

    // Nearly two days later: no warning yet.
    advance(&app, &clock, Duration::days(2) - Duration::minutes(1));
    wait_outbox_drained(&store).await;
    assert!(warnings(&world, &ch).is_empty());

    // A day before the archive: the warning, with its button and the archive's time.
    advance(&app, &clock, Duration::minutes(2));
    let warning = wait_warnings(&world, &ch, 1).await.remove(0);
    let when = (resolved_at + after).format("%Y-%m-%d %H:%M").to_string();
    assert!(
        warning.text.contains("will be archived at") && warning.text.contains(&when),
        "{}",
        warning.text
    );
    assert!(!is_archived(&world, &ch));

    // A restart between the warning and the archive.
    app.stop().await.unwrap();
    world.emu.drop_connections();
    let app = start_with_status(&world, &clock, Some(after), Some(&status)).await;

    advance(&app, &clock, Duration::days(1));
    wait_archived(&world, &ch).await;
    let entries = wait_timeline(&store, &ch, "the archive", |e| {
        e.iter()
            .any(|e| e.kind == EntryKind::ChannelArchive && e.text.contains("archived the"))
    })
    .await;
    let archive_entries: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::ChannelArchive)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(archive_entries.len(), 2, "{archive_entries:?}");
    assert!(archive_entries[0].contains("announced"));
    // Once: one warning, nothing pending, and the bot never posts in the archived channel.
    assert_eq!(warnings(&world, &ch).len(), 1);
    assert_eq!(pending_archives(&store).await, 0);
    let before = world.emu.messages(&ch).len();
    advance(&app, &clock, Duration::days(2));
    wait_outbox_drained(&store).await;
    assert_eq!(world.emu.messages(&ch).len(), before);

    // A message meant for the channel that comes late (Slack refuses it: is_archived) is
    // dropped quietly: the status channel hears of no delivery problem.
    let mut tx = store.begin().await.unwrap();
    let late = warroom::store::outbox::NewOutgoing {
        destination: warroom::domain::OutboxDestination::channel(ch.clone()),
        text: "a late notice".into(),
        blocks: None,
    };
    warroom::store::outbox::enqueue(&mut tx, &late, warroom::clock::Clock::now(&clock))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.service.kick_timers();
    wait_outbox_drained(&store).await;
    assert_eq!(world.emu.messages(&ch).len(), before);
    let told: Vec<String> = world
        .emu
        .messages(&status)
        .into_iter()
        .map(|m| m.text)
        .filter(|t| t.contains("cannot deliver"))
        .collect();
    assert!(told.is_empty(), "{told:?}");
    app.stop().await.unwrap();
}

on_both_backends!(a_resolved_channel_is_announced_then_archived_once_across_a_restart);

/// Keep open (pressed by someone who only reads along) cancels the archive, on the timeline
/// and announced; the warning loses its button.
#[tokio::test]
async fn keep_open_cancels_the_archive() {
    let world = World::new().await;
    let clock = ManualClock::new(t0());
    // A day or less: the warning comes at once with the resolve.
    let app = start(&world, &clock, Some(Duration::hours(20))).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    resolve(&world, &store, &ch, 1).await;
    let warning = wait_warnings(&world, &ch, 1).await.remove(0);
    world.emu.join_channel(&ch, DAVE);
    world
        .emu
        .click_button(DAVE, &ch, &warning.ts, KEEP_OPEN_ACTION)
        .await
        .expect("click acked");
    wait_timeline(&store, &ch, "keep open", |e| {
        e.iter()
            .any(|e| e.kind == EntryKind::ChannelArchive && e.actor.as_deref() == Some(DAVE))
    })
    .await;
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&ch)?
                .iter()
                .any(|m| m.text.contains("kept this channel open") && m.text.contains(DAVE))
                .then_some(())
        })
        .await
        .expect("the keep-open notice");
    assert!(warnings(&world, &ch).is_empty(), "the button is taken off");
    assert_eq!(pending_archives(&store).await, 0);

    advance(&app, &clock, Duration::days(2));
    wait_outbox_drained(&store).await;
    assert!(!is_archived(&world, &ch));
    app.stop().await.unwrap();
}

/// A reopen cancels the archive; the next resolve schedules a new one, which happens.
#[tokio::test]
async fn a_reopen_cancels_the_archive() {
    let world = World::new().await;
    let clock = ManualClock::new(t0());
    let app = start(&world, &clock, Some(Duration::hours(2))).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    resolve(&world, &store, &ch, 1).await;
    wait_warnings(&world, &ch, 1).await;
    assert_eq!(
        world.command(ALICE, &ch, "status investigating").await,
        None
    );
    wait_timeline(&store, &ch, "the reopen", |e| {
        e.iter().any(|e| e.kind == EntryKind::Reopened)
    })
    .await;
    assert_eq!(pending_archives(&store).await, 0);
    advance(&app, &clock, Duration::hours(3));
    wait_outbox_drained(&store).await;
    assert!(!is_archived(&world, &ch));

    // Resolved again: a new warning, and the archive two hours on.
    resolve(&world, &store, &ch, 2).await;
    wait_warnings(&world, &ch, 2).await;
    advance(&app, &clock, Duration::hours(2));
    wait_archived(&world, &ch).await;
    app.stop().await.unwrap();
}

/// Without `archive_after` (the default), nothing is announced or archived.
#[tokio::test]
async fn by_default_nothing_is_archived() {
    let world = World::new().await;
    let clock = ManualClock::new(t0());
    let app = start(&world, &clock, None).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    resolve(&world, &store, &ch, 1).await;
    assert_eq!(pending_archives(&store).await, 0);
    advance(&app, &clock, Duration::days(60));
    wait_outbox_drained(&store).await;
    assert!(warnings(&world, &ch).is_empty());
    assert!(!is_archived(&world, &ch));
    app.stop().await.unwrap();
}
