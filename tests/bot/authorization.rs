//! The authorization model end to end (SECURITY.md): one incident, one person per role, and a
//! representative command per class of action. Allowed commands take effect; refused ones
//! are answered privately with who may, and change nothing.

use std::sync::Arc;

use warroom::domain::{EntryKind, Severity, Status};
use warroom::store::Store;

use crate::helpers::*;

const LEAD: &str = "U0LEAD";
const INCIDENT_LEAD: &str = "U0INCLEAD";
const AWS_ADMIN: &str = "U0AWSADMIN";
const STRANGER: &str = "U0STRANGER";
const LEADS_GROUP: &str = "S0INCLEADS";
const SUPPORT_GROUP: &str = "S0AWSADMIN";

/// Run `text` as `user` and check that it is refused: a private answer naming who may
/// `what`, and the incident and its timeline exactly as they were. Returns the refusal.
async fn refused(
    world: &World,
    store: &Store,
    ch: &str,
    user: &str,
    text: &str,
    what: &str,
) -> String {
    let before = incident_in(store, ch).await;
    let entries = warroom::store::timeline::of_incident(store.db(), before.incident.id)
        .await
        .unwrap()
        .len();
    let seen = world.ephemeral_count(user);
    assert_eq!(world.command(user, ch, text).await, None, "{user}: {text}");
    // The refusal is the last thing the bot does for the command.
    let reply = world.ephemeral_after(user, seen).await;
    assert!(
        reply.starts_with(":no_entry: Only the incident lead")
            && reply.contains(&format!("may {what}")),
        "{user}: {text} got {reply:?}"
    );
    let after = incident_in(store, ch).await;
    assert_eq!(after.incident, before.incident, "{user}: {text}");
    assert_eq!(
        warroom::store::timeline::of_incident(store.db(), after.incident.id)
            .await
            .unwrap()
            .len(),
        entries,
        "{user}: {text} left a timeline entry"
    );
    reply
}

/// Run `text` as `user` and wait for its timeline entry of `kind`, by `user`.
async fn allowed(world: &World, store: &Store, ch: &str, user: &str, text: &str, kind: EntryKind) {
    let count = |e: &[warroom::domain::TimelineEntry]| {
        e.iter()
            .filter(|e| e.kind == kind && e.actor.as_deref() == Some(user))
            .count()
    };
    let before = count(
        &warroom::store::timeline::of_incident(
            store.db(),
            incident_in(store, ch).await.incident.id,
        )
        .await
        .unwrap(),
    );
    assert_eq!(world.command(user, ch, text).await, None, "{user}: {text}");
    wait_timeline(store, ch, &format!("{user}: {text}"), |e| count(e) > before).await;
}

#[tokio::test]
async fn each_role_may_do_what_the_model_says_and_a_refusal_changes_nothing() {
    let world = World::new().await;
    for (id, name) in [
        (LEAD, "lena"),
        (INCIDENT_LEAD, "ines"),
        (AWS_ADMIN, "adam"),
        (STRANGER, "sam"),
    ] {
        world.emu.add_user(id, name);
    }
    world
        .emu
        .add_usergroup(LEADS_GROUP, "incident-leads", &[INCIDENT_LEAD]);
    world
        .emu
        .add_usergroup(SUPPORT_GROUP, "aws-admins", &[AWS_ADMIN]);
    let _bot = world
        .start_bot_with(Arc::new(warroom::clock::SystemClock), |c| {
            c.slack.incident_leads = Some(LEADS_GROUP.into());
            c.escalation.support_usergroup = Some(SUPPORT_GROUP.into());
            // No AWS here: an allowed `escalate aws` is told the Support API is off.
            c.escalation.support_api = false;
        })
        .await;
    let store = world.store().await;

    // Alice declares, hands the lead to Lena; Dave takes part by speaking.
    let ch = world.declare(ALICE, "Checkout errors").await;
    for u in [LEAD, BOB, INCIDENT_LEAD, AWS_ADMIN, DAVE, STRANGER] {
        world.emu.join_channel(&ch, u);
    }
    allowed(
        &world,
        &store,
        &ch,
        ALICE,
        &format!("lead <@{LEAD}>"),
        EntryKind::LeadChanged,
    )
    .await;
    let ts = world
        .emu
        .post_message(DAVE, &ch, "I run the checkout service, looking", None)
        .unwrap();
    wait_timeline(&store, &ch, "Dave's message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;

    // (who, may run the incident: sev/resolve/reopen, may post updates, may open a case)
    let matrix = [
        (LEAD, true, true, true),
        (ALICE, true, true, true),
        (BOB, true, true, true),
        (INCIDENT_LEAD, true, true, true),
        (AWS_ADMIN, false, false, true),
        (DAVE, false, true, false),
        (STRANGER, false, false, false),
    ];
    for (user, runs, updates, cases) in matrix {
        let now = incident_in(&store, &ch).await.incident.severity;
        let sev = if now == Severity::Sev1 {
            "sev 2"
        } else {
            "sev 1"
        };
        if runs {
            allowed(&world, &store, &ch, user, sev, EntryKind::SeverityChanged).await;
            allowed(&world, &store, &ch, user, "resolve", EntryKind::Resolved).await;
            let r = incident_in(&store, &ch).await;
            assert_eq!(r.incident.status, Status::Resolved, "{user}");
            allowed(
                &world,
                &store,
                &ch,
                user,
                "status investigating",
                EntryKind::Reopened,
            )
            .await;
        } else {
            refused(&world, &store, &ch, user, sev, "change the severity").await;
            refused(&world, &store, &ch, user, "resolve", "resolve the incident").await;
        }

        let update = format!("update {user} says checkout is degraded");
        if updates {
            allowed(&world, &store, &ch, user, &update, EntryKind::Update).await;
        } else {
            refused(
                &world,
                &store,
                &ch,
                user,
                &update,
                "post stakeholder updates",
            )
            .await;
        }

        if cases {
            let seen = world.ephemeral_count(user);
            assert_eq!(world.command(user, &ch, "escalate aws").await, None);
            let reply = world.ephemeral_after(user, seen).await;
            assert!(
                reply.contains("does not call the Support API"),
                "{user}: escalate aws got {reply:?}"
            );
        } else {
            refused(
                &world,
                &store,
                &ch,
                user,
                "escalate aws",
                "open AWS Support cases",
            )
            .await;
        }
    }

    // Reopening is for the people running the incident too; the refusal names the groups.
    allowed(&world, &store, &ch, LEAD, "resolve", EntryKind::Resolved).await;
    refused(
        &world,
        &store,
        &ch,
        DAVE,
        "status investigating",
        "reopen the incident",
    )
    .await;
    let reply = refused(
        &world,
        &store,
        &ch,
        STRANGER,
        "status investigating",
        "reopen the incident",
    )
    .await;
    assert_eq!(
        reply,
        ":no_entry: Only the incident lead, its responders, whoever declared it, or members of the incident leads user group (S0INCLEADS) may reopen the incident. Ask one of them."
    );
    allowed(
        &world,
        &store,
        &ch,
        INCIDENT_LEAD,
        "status identified",
        EntryKind::Reopened,
    )
    .await;
}
