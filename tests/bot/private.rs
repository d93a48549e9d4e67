//! Private incidents (issue 18 part 5): `declare --private` opens a private channel, and no
//! surface outside it, the status channel, summaries, managers' DMs, App Home of a
//! non-member, `/incident list` and `stats`, shows the title; the private viewers and the
//! channel's members see the details.

use std::sync::Arc;

use chrono::Duration;
use warroom::domain::UserId;

use crate::helpers::*;

/// A manager who is not a private viewer: gets the summary, redacted.
const MANAGER: &str = "U0MANAGER";
/// A manager listed in `[incident] private_viewers`.
const CISO: &str = "U0CISO";
/// Unique to the title: searched for on every surface.
const SECRET: &str = "XYZZY-7731";

/// Everything a message shows: its text and its blocks.
fn everything(m: &warroom::slack_emulator::Message) -> String {
    format!(
        "{} {}",
        m.text,
        m.blocks.as_ref().map(|b| b.to_string()).unwrap_or_default()
    )
}

/// The bot's DMs to `user` once there are at least `n`.
async fn dms(world: &World, user: &str, n: usize) -> Vec<String> {
    let u = user.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let im = ws
                .channels
                .iter()
                .find(|c| c.is_im && c.im_user.as_deref() == Some(u.as_str()))?;
            let msgs = ws.messages.get(&im.id)?;
            (msgs.len() >= n).then(|| msgs.iter().map(everything).collect())
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} DMs to {user}: {e}"))
}

/// The newest view published for `user` once there are at least `n`.
async fn home_of(world: &World, user: &str, n: usize) -> String {
    world.emu.open_app_home(user);
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let views: Vec<_> = ws
                .views_published
                .iter()
                .filter(|v| v.user == user)
                .collect();
            (views.len() >= n).then(|| views[n - 1].view.to_string())
        })
        .await
        .expect("a published home view")
}

/// The bot's posts in `channel` that contain `needle`, once there is one.
async fn post_with(world: &World, channel: &str, needle: &str) -> String {
    everything(&bot_post(world, channel, needle).await)
}

#[tokio::test]
async fn a_private_incidents_title_reaches_no_public_surface() {
    let world = World::new().await;
    world.emu.add_user(MANAGER, "manager");
    world.emu.add_user(CISO, "ciso");
    let status = world.bot_channel("incident-status");
    let clock = whole_hour_clock();
    let bot = world
        .start_bot_with(Arc::new(clock.clone()), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
            c.slack.managers = vec![
                UserId::parse(MANAGER).unwrap(),
                UserId::parse(CISO).unwrap(),
            ];
            c.incident.private_viewers = vec![UserId::parse(CISO).unwrap()];
        })
        .await;

    // A public incident alongside, so the surfaces are not empty for other reasons.
    let public = world.declare(CAROL, "Checkout slow sev3").await;
    let private = world
        .declare(
            ALICE,
            &format!("--private Payroll <export> & {SECRET} leak sev2"),
        )
        .await;

    // A private channel, named without the title, that a non-member cannot find.
    let ch = world.emu.channel(&private).unwrap();
    assert!(ch.is_private, "{ch:?}");
    assert!(ch.name.ends_with("-private"), "{}", ch.name);
    assert!(!ch.name.to_lowercase().contains("xyzzy"), "{}", ch.name);
    assert!(ch.is_member(ALICE) && ch.is_member(BOB) && ch.is_member(CAROL));
    let listed = world
        .emu
        .conversations_list_as(DAVE, "public_channel,private_channel");
    assert!(
        listed.iter().all(|c| c["id"] != private.as_str()),
        "{listed:?}"
    );
    assert!(listed.iter().any(|c| c["id"] == public.as_str()));
    assert_eq!(
        world.emu.conversation_info_as(DAVE, &private).unwrap_err(),
        "channel_not_found"
    );
    let info = world.emu.conversation_info_as(BOB, &private).unwrap();
    assert_eq!(info["is_private"], true);
    let listed = world.emu.conversations_list_as(BOB, "private_channel");
    assert!(listed.iter().any(|c| c["id"] == private.as_str()));
    // Nobody outside can type in it.
    assert!(world
        .emu
        .slash_command(DAVE, &private, "list")
        .await
        .is_err());

    // Its own header says it is private, with the title escaped.
    let header = world.wait_header(&private, &["private"]).await;
    assert!(header.contains(SECRET), "{header}");
    let header_msg = everything(&world.header(&private));
    assert!(
        header_msg.contains("Payroll &lt;export&gt; &amp;"),
        "{header_msg}"
    );

    // What is said there reaches the bot (message.groups) and the timeline.
    world
        .emu
        .post_message(BOB, &private, "db replica lagging", None)
        .unwrap();
    let store = world.store().await;
    let record = incident_in(&store, &private).await;
    assert!(record.private);
    wait_timeline(&store, &private, "the message", |e| {
        e.iter().any(|e| e.text.contains("db replica lagging"))
    })
    .await;

    // A severity change: the status channel gets the redacted line only.
    assert_eq!(world.command(BOB, &private, "sev 1").await, None);
    let notice = post_with(&world, &status, "a private SEV1 incident").await;
    assert!(notice.contains(&format!("lead <@{ALICE}>")), "{notice}");

    // A stakeholder update: the channel and the private viewer, not the status channel.
    assert_eq!(
        world
            .command(
                ALICE,
                &private,
                &format!("update payroll vendor says {SECRET} contained")
            )
            .await,
        None
    );
    let to_ciso = dms(&world, CISO, 1).await;
    assert!(to_ciso[0].contains("contained"), "{to_ciso:?}");
    assert!(to_ciso[0].contains("Payroll &lt;export&gt;"), "{to_ciso:?}");

    // The summary: redacted in the status channel and for the other manager, full for the
    // private viewer.
    clock.advance(Duration::hours(1));
    bot.service.kick_timers();
    let summary = post_with(&world, &status, "Incident summary").await;
    assert!(summary.contains("a private SEV1 incident"), "{summary}");
    assert!(summary.contains("Checkout slow"), "{summary}");
    let manager = dms(&world, MANAGER, 1).await;
    assert!(
        manager[0].contains("a private SEV1 incident"),
        "{manager:?}"
    );
    let ciso = dms(&world, CISO, 2).await;
    assert!(
        ciso.iter()
            .any(|m| m.contains("Incident summary") && m.contains(SECRET)),
        "{ciso:?}"
    );

    // App Home: a non-member sees the redacted line, a member the details.
    let dave_home = home_of(&world, DAVE, 1).await;
    assert!(
        dave_home.contains("a private SEV1 incident") && dave_home.contains("Checkout slow"),
        "{dave_home}"
    );
    let bob_home = home_of(&world, BOB, 1).await;
    assert!(bob_home.contains(SECRET), "{bob_home}");

    // `/incident list`: redacted from elsewhere, full inside the channel; stats: counts.
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(list.contains("a private SEV1 incident"), "{list}");
    let list = world.command(BOB, &private, "list").await.unwrap();
    assert!(list.contains(SECRET), "{list}");
    let stats = world.command(DAVE, &world.ops, "stats").await.unwrap();
    assert!(stats.contains("2"), "{stats}");

    // Resolve: the status channel is told, redacted.
    assert_eq!(world.command(ALICE, &private, "resolve").await, None);
    post_with(&world, &status, "— resolved after").await;
    wait_outbox_drained(&store).await;

    // The sweep: the title is nowhere but in the private channel and with the private
    // viewer, in no message, ephemeral or view shown to anyone else.
    let ws = world.emu.workspace();
    let ciso_im = ws
        .channels
        .iter()
        .find(|c| c.is_im && c.im_user.as_deref() == Some(CISO))
        .map(|c| c.id.clone())
        .unwrap();
    let mut looked = 0;
    for (channel, msgs) in &ws.messages {
        if *channel == private || *channel == ciso_im {
            continue;
        }
        for m in msgs {
            looked += 1;
            assert!(
                !everything(m).contains(SECRET),
                "the title leaked to {channel}: {m:?}"
            );
        }
    }
    assert!(
        looked >= 6,
        "status channel, public incident, DMs: {looked}"
    );
    for e in ws.ephemerals.iter().filter(|e| e.channel != private) {
        let shown = format!("{} {:?}", e.text, e.blocks);
        assert!(!shown.contains(SECRET), "ephemeral leaked: {e:?}");
    }
    for v in ws.views_published.iter().filter(|v| v.user != BOB) {
        assert!(
            !v.view.to_string().contains(SECRET),
            "home of {} leaked",
            v.user
        );
    }
    for c in ws.channels.iter().filter(|c| c.id != private) {
        assert!(!c.name.contains("xyzzy"), "{}", c.name);
    }
}

async fn the_private_flag_survives_a_restart(world: World) {
    let status = world.bot_channel("incident-status");
    let tweak = |c: &mut warroom::config::Config| {
        c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
    };
    let bot = world
        .start_bot_with(Arc::new(warroom::clock::SystemClock), tweak)
        .await;
    let private = world
        .declare(ALICE, &format!("--private Merger talks {SECRET}"))
        .await;
    bot.stop().await.unwrap();

    let _bot = world
        .start_bot_with(Arc::new(warroom::clock::SystemClock), tweak)
        .await;
    let store = world.store().await;
    assert!(incident_in(&store, &private).await.private);
    assert_eq!(world.command(BOB, &private, "sev 2").await, None);
    let notice = post_with(&world, &status, "a private SEV2 incident").await;
    assert!(!notice.contains(SECRET), "{notice}");
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(
        list.contains("a private SEV2 incident") && !list.contains(SECRET),
        "{list}"
    );
}

on_both_backends!(the_private_flag_survives_a_restart);
