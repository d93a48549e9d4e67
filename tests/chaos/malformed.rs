//! Malformed and hostile input on the socket and in commands: logged and skipped, or
//! answered with a usage error; never a crash, a stuck connection or lost text.

use serde_json::json;

use crate::helpers::*;

/// Text that trips naive code: RTL override, zero-width characters, an emoji ZWJ sequence,
/// combining marks, a lone surrogate's replacement, control characters.
const UNICODE: &[&str] = &[
    "\u{202E}gnp.exe\u{202C} right-to-left override",
    "zero\u{200B}width\u{200C}non\u{200D}joiner\u{FEFF}bom",
    "family 👨\u{200D}👩\u{200D}👧\u{200D}👦 and flag 🏳\u{FE0F}\u{200D}🌈",
    "e\u{301}\u{301}\u{301} combining, 𝕳𝖊𝖑𝖑𝖔 math, 한국어, עברית, العربية",
    "control \u{1}\u{7}\u{1b}[31m escape \u{fffd}",
];

#[tokio::test]
async fn malformed_envelopes_and_events_are_skipped_and_the_connection_keeps_working() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Malformed input").await;

    let frames = [
        "{\"type\":\"events_api\",\"envelope_id\":\"e-trunc\",\"payload\":{\"event\":{\"type\":\"mess"
            .to_string(),
        "not json at all".to_string(),
        "\u{0}\u{1}binary-ish".to_string(),
        "null".to_string(),
        "42".to_string(),
        "{\"type\":\"events_api\"}".to_string(),
        "{\"type\":\"events_api\",\"envelope_id\":\"e-nopayload\"}".to_string(),
        "{\"type\":\"slash_commands\",\"envelope_id\":\"e-badcmd\",\"payload\":{}}".to_string(),
        "{\"type\":\"interactive\",\"envelope_id\":\"e-badint\",\"payload\":{\"type\":7}}"
            .to_string(),
        "{\"type\":\"brand_new_type\",\"envelope_id\":\"e-new\",\"payload\":{}}".to_string(),
        "{\"type\":\"disconnect\",\"reason\":\"unheard_of\"}".to_string(),
        format!("{{\"type\":\"events_api\",\"envelope_id\":\"e-deep\",\"payload\":{}}}", "[".repeat(5000)),
    ];
    for frame in frames {
        world.emu.push_raw_frame(frame).await.expect("frame sent");
    }
    // Events with missing or mistyped fields, through the real envelope path.
    for event in [
        json!({"type": "message"}),
        json!({"type": "message", "channel": channel}),
        json!({"type": "message", "channel": channel, "user": BOB}),
        json!({"type": "message", "channel": channel, "user": 7, "ts": "1.0", "text": "x"}),
        json!({"type": "message", "subtype": "message_changed", "channel": channel}),
        json!({"type": "message", "subtype": "message_deleted", "channel": channel}),
        json!({"type": "reaction_added", "user": BOB}),
        json!({"type": "reaction_added", "user": BOB, "reaction": "pushpin", "item": {"type": "message"}}),
        json!({"type": "pin_added", "channel_id": channel}),
        json!({"type": "app_home_opened"}),
        json!({"type": "a_future_event", "channel": channel}),
    ] {
        world.emu.push_event(event);
    }

    // Enormous and unicode-laden messages are recorded exactly as typed.
    let huge = "w".repeat(40_000);
    let mut texts: Vec<String> = UNICODE.iter().map(|s| s.to_string()).collect();
    texts.push(huge);
    let posted: Vec<(String, String)> = texts
        .iter()
        .map(|t| {
            (
                world
                    .emu
                    .post_message(BOB, &channel, t, None)
                    .expect("posted"),
                t.clone(),
            )
        })
        .collect();
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "the messages after the junk", |e| {
        posted
            .iter()
            .all(|(ts, _)| e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str())))
    })
    .await;
    for (ts, text) in &posted {
        let entry = entries
            .iter()
            .find(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
            .expect("recorded");
        assert_eq!(&entry.text, text, "recorded byte for byte");
    }
    assert_eq!(world.emu.connection_count(), 1, "the connection survived");
    assert_eq!(
        world.command(BOB, &channel, "status identified").await,
        None
    );
    // Acked before the worker applies it: wait, so the header check below sees the change.
    wait_incident(&store, &channel, "status identified", |r| {
        r.incident.status.to_string() == "identified"
    })
    .await;
    check_invariants(&world, &store, 1).await;
}

#[tokio::test]
async fn huge_and_unicode_commands_get_answers_not_crashes() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let ten_kb = "y".repeat(10_240);

    // 10 kB of text: a usage error, short, only for the caller.
    for text in [
        format!("declare {ten_kb}"),
        format!("frobnicate {ten_kb}"),
        format!("sev {ten_kb}"),
        ten_kb.clone(),
    ] {
        let reply = world
            .command(ALICE, &world.ops, &text)
            .await
            .unwrap_or_else(|| panic!("/incident {text:.30}… got no answer"));
        assert!(
            reply.len() < 4000,
            "the usage reply stays short: {}",
            reply.len()
        );
    }
    assert!(world.inc_channels().is_empty(), "nothing was declared");

    // A declare whose title is all unicode edge cases makes a valid war room.
    let channel = world.declare(ALICE, &format!("{} sev2", UNICODE[2])).await;
    let name = world.emu.channel(&channel).expect("channel").name;
    assert!(
        name.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
        "a channel name Slack accepts: {name}"
    );
    // In the channel: a 10 kB note is either recorded in full or refused with a reason.
    let reply = world
        .command(BOB, &channel, &format!("note {ten_kb}"))
        .await;
    let store = world.store().await;
    match reply {
        None => {
            wait_timeline(&store, &channel, "the long note", |e| {
                e.iter().any(|x| x.text.contains(&ten_kb))
            })
            .await;
        }
        Some(r) => assert!(r.len() < 4000, "a short refusal: {r:.200}"),
    }
    for u in UNICODE {
        assert_eq!(
            world.command(BOB, &channel, &format!("note {u}")).await,
            None,
            "{u}"
        );
    }
    wait_timeline(&store, &channel, "the unicode notes", |e| {
        UNICODE
            .iter()
            .all(|u| e.iter().any(|x| x.text.contains(u.trim())))
    })
    .await;
    check_invariants(&world, &store, 1).await;
}
