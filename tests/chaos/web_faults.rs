//! Web API faults: 429 with Retry-After on every method, 5xx and slow answers, and the
//! permanent errors a post can meet (`channel_not_found`, `not_in_channel`, `is_archived`).

use std::sync::Arc;
use std::time::Duration;

use warroom::clock::SystemClock;
use warroom::slack_emulator::Fault;

use crate::helpers::*;

/// A short incident touching every core Web API method: declare (create, invite, post, pin),
/// messages, changes (post, update, status-channel notices), an update, App Home, resolve.
/// Returns the incident channel once the bot has done everything.
async fn scripted_incident(world: &World, status: &str) -> String {
    let channel = world.declare(ALICE, "Web faults sev2").await;
    let posted: Vec<String> = (0..3)
        .map(|i| {
            world
                .emu
                .post_message(BOB, &channel, &format!("looking {i}"), None)
                .expect("posted")
        })
        .collect();
    for cmd in [
        "status identified pool exhausted",
        "sev 1",
        "update failover in progress",
        "note rolled back the deploy",
    ] {
        assert_eq!(world.command(BOB, &channel, cmd).await, None, "{cmd}");
    }
    world.emu.open_app_home(CAROL);
    assert_eq!(world.command(BOB, &channel, "resolve all good").await, None);
    let store = world.store().await;
    wait_timeline(&store, &channel, "the whole script", |e| {
        posted
            .iter()
            .all(|ts| e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str())))
            && e.iter().any(|x| x.kind.as_str() == "update")
            && e.iter().any(|x| x.text.contains("rolled back the deploy"))
            && e.iter().any(|x| x.text.contains("all good"))
    })
    .await;
    // Declare notice + header, status, sev, update, note, resolve: the header and 5 notices.
    world.bot_messages(&channel, 6).await;
    world.bot_messages(status, 1).await;
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.views_published
                .iter()
                .any(|v| v.user == CAROL)
                .then_some(())
        })
        .await
        .expect("App Home published");
    check_invariants(world, &store, 1).await;
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.status.to_string(), "resolved");
    assert_eq!(record.incident.severity.to_string(), "SEV1");
    channel
}

#[tokio::test]
async fn a_429_on_every_method_is_waited_out_and_nothing_is_lost() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    for m in warroom::slack::manifest::METHODS {
        world.emu.inject_fault(
            m.name,
            Fault::RateLimited {
                retry_after_secs: 1,
            },
            1,
        );
    }
    scripted_incident(&world, &status).await;

    let calls = world.emu.api_calls();
    let limited: Vec<&str> = calls
        .iter()
        .filter(|c| c.http_status == 429)
        .map(|c| c.method.as_str())
        .collect();
    for core in [
        "conversations.create",
        "conversations.invite",
        "chat.postMessage",
        "pins.add",
        "chat.update",
        "views.publish",
    ] {
        assert!(
            limited.contains(&core),
            "{core} was never rate limited: {limited:?}"
        );
    }
    // Retry-After honoured: the next call of a limited method comes at least 1 s later.
    for (i, c) in calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.http_status == 429)
    {
        let next = calls[i + 1..]
            .iter()
            .find(|n| n.method == c.method)
            .unwrap_or_else(|| panic!("{} was never retried", c.method));
        let waited = next.at - c.at;
        assert!(
            waited >= chrono::Duration::milliseconds(950),
            "{} retried after {waited} despite Retry-After: 1",
            c.method
        );
        assert!(next.ok, "{} retry failed: {:?}", c.method, next.error);
    }
}

#[tokio::test]
async fn server_errors_and_slow_answers_are_retried_and_nothing_is_lost() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    for (method, code) in [
        ("conversations.create", 503),
        ("conversations.invite", 500),
        ("chat.postMessage", 502),
        ("pins.add", 503),
        ("chat.update", 500),
        ("views.publish", 503),
    ] {
        world.emu.inject_fault(method, Fault::HttpStatus(code), 1);
    }
    world
        .emu
        .inject_fault("chat.update", Fault::Delay(Duration::from_millis(1500)), 1);
    scripted_incident(&world, &status).await;
    let failed = world
        .emu
        .api_calls()
        .iter()
        .filter(|c| c.http_status >= 500)
        .count();
    assert!(failed >= 6, "every injected 5xx was met: {failed}");
}

/// A Slack outage of several failed attempts in a row (7 × 503 on chat.postMessage) delays a
/// declare but does not abandon its war room half set up: the worker's retry budget covers
/// minutes, not seconds.
#[tokio::test]
async fn a_slack_outage_longer_than_the_retry_budget_does_not_abandon_a_declare() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    world
        .emu
        .inject_fault("chat.postMessage", Fault::HttpStatus(503), 7);
    let channel = world.declare(ALICE, "Long outage").await;
    check_invariants(&world, &world.store().await, 1).await;
    assert!(!channel.is_empty());
}

#[tokio::test]
async fn permanent_post_errors_do_not_wedge_the_bot() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Permanent errors").await;
    let store = world.store().await;
    for (code, cmd) in [
        ("channel_not_found", "status identified"),
        ("not_in_channel", "sev 1"),
        ("is_archived", "note tried the failover"),
    ] {
        world
            .emu
            .inject_fault("chat.postMessage", Fault::Error(code.into()), 1);
        let before = world.ephemeral_count(BOB);
        assert_eq!(world.command(BOB, &channel, cmd).await, None);
        // The caller hears that the notice could not be posted.
        let told = world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.ephemerals
                    .iter()
                    .filter(|e| e.user == BOB)
                    .nth(before)
                    .map(|e| e.text.clone())
            })
            .await
            .unwrap_or_else(|e| panic!("{code}: the caller was never told: {e}"));
        assert!(told.contains(code), "{code}: {told}");
        // The change stands and the header shows it, notice or not.
        wait_header_matches(&world, &store, &channel).await;
    }
    // Later events are still processed: a message, and a command whose notice is posted.
    let ts = world
        .emu
        .post_message(CAROL, &channel, "still recording", None)
        .expect("posted");
    assert_eq!(
        world.command(BOB, &channel, "status monitoring").await,
        None
    );
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&channel)?
                .iter()
                .any(|m| m.user == bot && m.text.contains("monitoring"))
                .then_some(())
        })
        .await
        .expect("the notice after the failures is posted");
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.status.to_string(), "monitoring");
    assert_eq!(record.incident.severity.to_string(), "SEV1");
    check_invariants(&world, &store, 1).await;
}

/// A notice goes into the outbox with what it announces: a status change, an action item
/// added or closed. (They were once posted after the commit, and a 5xx on that post lost
/// them: the retried event found the change on record and posted nothing.) The scheduler
/// retries each; each is posted once.
#[tokio::test]
async fn notices_lost_to_a_server_error_are_posted_on_retry() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    let channel = world.declare(ALICE, "Lost notice").await;
    let bot = world.emu.config().bot_user_id.clone();
    // The status change has two notices (its channel's and the status channel's): enough
    // failures that both meet one, whichever is posted first.
    world
        .emu
        .inject_fault("chat.postMessage", Fault::HttpStatus(503), 2);
    for (command, notice) in [
        ("status identified", "identified"),
        (
            "action roll back the deploy",
            "added action item 1: roll back the deploy",
        ),
        (
            "action done 1",
            "closed action item 1: roll back the deploy",
        ),
    ] {
        world
            .emu
            .inject_fault("chat.postMessage", Fault::HttpStatus(503), 1);
        assert_eq!(world.command(BOB, &channel, command).await, None);
        world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.messages
                    .get(&channel)?
                    .iter()
                    .any(|m| m.user == bot && !m.pinned && m.text.contains(notice))
                    .then_some(())
            })
            .await
            .unwrap_or_else(|e| panic!("the notice {notice:?} was never posted: {e:?}"));
    }
    // The status channel's notice of the change is retried too (it was posted directly,
    // best effort, and lost to a 5xx).
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&status)?
                .iter()
                .any(|m| m.user == bot && m.text.contains("→ *identified*"))
                .then_some(())
        })
        .await
        .expect("the status channel hears of the change");
    let told = world
        .emu
        .messages(&status)
        .into_iter()
        .filter(|m| m.user == bot && m.text.contains("→ *identified*"))
        .count();
    assert_eq!(told, 1, "the status channel is told once");
    // Posted once each: look again once the last one is out.
    let posted = world.emu.messages(&channel);
    for notice in ["added action item 1", "closed action item 1"] {
        let n = posted
            .iter()
            .filter(|m| m.user == bot && m.text.contains(notice))
            .count();
        assert_eq!(n, 1, "{notice:?} posted {n} times");
    }
}
