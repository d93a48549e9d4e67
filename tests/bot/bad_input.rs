//! Bad input gets a clear private answer, changes nothing, and is never echoed unescaped.

use crate::helpers::*;

#[tokio::test]
async fn bad_commands_get_a_private_usage_error_and_change_nothing() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let long_title = "x".repeat(5000);
    let cases = [
        ("sev 9".to_string(), "sev"),
        ("frobnicate".to_string(), "unknown subcommand"),
        ("".to_string(), "declare"),
        (format!("declare {long_title}"), "title"),
        ("status bogus".to_string(), "investigating"),
        ("lead alice".to_string(), "lead"),
    ];
    for (text, expect) in &cases {
        let reply = world.command(ALICE, &world.ops, text).await;
        let reply = reply.unwrap_or_else(|| panic!("/incident {text:.40} got no reply"));
        assert!(reply.contains(expect), "/incident {text:.40}: {reply}");
        assert!(reply.len() < 4000, "the usage reply stays short");
    }
    // Nothing was created or recorded.
    assert!(world
        .emu
        .channels()
        .iter()
        .all(|c| !c.name.starts_with("inc-")));
    let store = world.store().await;
    assert!(warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap()
        .is_empty());
    // And the replies were private: nothing posted in #ops.
    assert!(world.emu.messages(&world.ops).is_empty());
}

#[tokio::test]
async fn mentions_and_links_in_user_text_are_escaped_when_echoed() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world
        .declare(
            ALICE,
            "<!channel> DB <https://evil.example|click here> down",
        )
        .await;

    let header = world.header(&channel);
    let raw = format!(
        "{} {}",
        header.text,
        header.blocks.clone().unwrap_or_default()
    );
    assert!(!raw.contains("<!channel>"), "{raw}");
    assert!(!raw.contains("<https://evil"), "{raw}");
    assert!(raw.contains("&lt;!channel&gt;"), "{raw}");

    assert_eq!(
        world
            .command(ALICE, &channel, "status identified <!here> ping <@U0DAVE>")
            .await,
        None
    );
    let notice = world.bot_messages(&channel, 2).await.pop().unwrap();
    assert!(
        !notice.text.contains("<!here>") && !notice.text.contains("<@U0DAVE>"),
        "{}",
        notice.text
    );

    // The stored title is what was typed: escaping happens on the way out.
    let record = incident_in(&world.store().await, &channel).await;
    assert!(record.incident.title.starts_with("<!channel>"));
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_the_connection_keeps_working() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Frame fuzz").await;
    for frame in [
        "{not json".to_string(),
        "{\"type\":\"events_api\",\"envelope_id\":\"e-bad\",\"payload\":{\"nope\":1}}".to_string(),
        "{\"type\":\"mystery\",\"envelope_id\":\"e-mystery\"}".to_string(),
        "[]".to_string(),
        format!("{{\"type\":\"events_api\",\"envelope_id\":\"e-big\",\"payload\":{{\"event\":{{\"type\":\"message\",\"text\":\"{}\"}}}}}}", "a".repeat(40_000)),
    ] {
        world.emu.push_raw_frame(frame).await.unwrap();
    }
    let ts = world
        .emu
        .post_message(BOB, &channel, "still here", None)
        .unwrap();
    wait_timeline(
        &world.store().await,
        &channel,
        "the message after the junk",
        |e| e.iter().any(|x| x.slack_ts.as_deref() == Some(&ts)),
    )
    .await;
    assert_eq!(world.emu.connection_count(), 1);
}

#[tokio::test]
async fn a_bad_bot_token_fails_at_start_with_a_clear_error() {
    let world = World::new().await;
    let (config, _) = warroom::demo::config_for_emulator(&world.emu, &world.db_url, &[]).unwrap();
    let secrets = warroom::config::Secrets::new(
        world.emu.config().app_token.clone(),
        "xoxb-not-the-right-token".into(),
    )
    .unwrap();
    let err = warroom::app::App::build(
        config,
        secrets,
        std::sync::Arc::new(warroom::clock::SystemClock),
    )
    .await
    .err()
    .expect("start fails");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("SLACK_BOT_TOKEN") && msg.contains("invalid_auth"),
        "{msg}"
    );
    assert!(
        !msg.contains("xoxb-not-the-right-token"),
        "the token never appears: {msg}"
    );
}

/// Text that escapes to more than Slack takes: an update of 2,800 `<` is 11,200 characters
/// once escaped. The emulator refuses what Slack refuses, so the update is posted only if
/// warroom cut it to fit: whole entities, a note saying the full text is on the timeline,
/// which keeps every character.
#[tokio::test]
async fn an_update_that_escapes_past_slack_s_limits_is_cut_to_fit_and_kept_whole() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(std::sync::Arc::new(warroom::clock::SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
        })
        .await;
    let channel = world.declare(ALICE, "Angle brackets").await;
    let update = "<".repeat(2_800);
    assert_eq!(
        world
            .command(ALICE, &channel, &format!("update {update}"))
            .await,
        None
    );
    let bot = world.emu.config().bot_user_id.clone();
    for ch in [&channel, &status] {
        let posted = world
            .emu
            .wait_until(DEADLINE, |ws| {
                ws.messages
                    .get(ch.as_str())?
                    .iter()
                    .find(|m| m.user == bot && m.text.starts_with("Update on incident"))
                    .cloned()
            })
            .await
            .expect("the update is posted");
        let body = posted.blocks.as_ref().unwrap()[1]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(body.chars().count() <= 3_000, "{}", body.chars().count());
        let head = body
            .strip_suffix(warroom::slack::limits::CUT_NOTE)
            .unwrap_or_else(|| panic!("no note that it was cut: {body:.80}"));
        assert!(head.len() > 2_000 && head.replace("&lt;", "").is_empty());
    }
    // Slack refused nothing on the way.
    assert!(world
        .emu
        .api_calls()
        .iter()
        .all(|c| c.error.as_deref() != Some("invalid_blocks")));
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "the update", |e| {
        e.iter()
            .any(|e| e.kind == warroom::domain::EntryKind::Update)
    })
    .await;
    let recorded = entries
        .iter()
        .find(|e| e.kind == warroom::domain::EntryKind::Update)
        .unwrap();
    assert_eq!(recorded.text, update, "the timeline keeps every character");
}
