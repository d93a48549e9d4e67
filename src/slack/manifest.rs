//! What warroom asks of Slack, as data: the Web API methods it calls, the events it
//! handles, the slash command, and the scope each needs (from Slack's method and event
//! reference pages).
//!
//! This is the source of truth for `deploy/slack-app-manifest.yaml` (a test keeps the two
//! in sync both ways), for the scopes `warroom doctor` expects, and for the scopes the
//! emulator grants in the demo and the tests. A test also checks that every method the bot
//! really calls, in the source and against the emulator, is listed here.

use std::collections::BTreeSet;

/// Which token a method is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// The bot token (`xoxb-…`); its scopes are the app's bot scopes.
    Bot,
    /// The app-level token (`xapp-…`); its scope is granted when the token is created.
    App,
}

/// A Web API method warroom calls.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    pub name: &'static str,
    pub token: Token,
    /// The scope warroom relies on for it (of the ones Slack accepts, the one that fits
    /// public channels); `None` when the method needs none.
    pub scope: Option<&'static str>,
    /// Further scopes for the other conversation types warroom uses it on (DMs).
    pub more_scopes: &'static [&'static str],
    /// What warroom uses it for.
    pub why: &'static str,
}

/// An Events API event warroom subscribes to.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// The subscription name in the manifest (`message.channels`, not `message`).
    pub subscription: &'static str,
    /// `None` for events that need no scope (`app_home_opened`).
    pub scope: Option<&'static str>,
    pub why: &'static str,
}

/// The slash command warroom registers.
pub const SLASH_COMMAND: &str = "/incident";
/// The scope a slash command needs.
pub const SLASH_COMMAND_SCOPE: &str = "commands";
/// The scope of the app-level token (Socket Mode).
pub const APP_TOKEN_SCOPE: &str = "connections:write";

/// Every Web API method warroom calls.
pub const METHODS: &[Method] = &[
    Method {
        name: "auth.test",
        token: Token::Bot,
        scope: None,
        more_scopes: &[],
        why: "check the bot token at start",
    },
    Method {
        name: "apps.connections.open",
        token: Token::App,
        scope: Some(APP_TOKEN_SCOPE),
        more_scopes: &[],
        why: "open Socket Mode connections",
    },
    Method {
        name: "conversations.create",
        token: Token::Bot,
        scope: Some("channels:manage"),
        more_scopes: &["groups:write"],
        why: "create the incident channel (a private one for a private incident)",
    },
    Method {
        name: "conversations.archive",
        token: Token::Bot,
        scope: Some("channels:manage"),
        more_scopes: &["groups:write"],
        why: "archive a resolved incident's channel ([incident] archive_after)",
    },
    Method {
        name: "conversations.list",
        token: Token::Bot,
        scope: Some("channels:read"),
        more_scopes: &["groups:read"],
        why: "find a channel created before a restart",
    },
    Method {
        name: "conversations.members",
        token: Token::Bot,
        scope: Some("channels:read"),
        more_scopes: &["groups:read"],
        why: "show a private incident's details on App Home only to its channel's members",
    },
    Method {
        name: "conversations.invite",
        token: Token::Bot,
        scope: Some("channels:manage"),
        more_scopes: &["groups:write"],
        why: "invite responders",
    },
    Method {
        name: "conversations.open",
        token: Token::Bot,
        scope: Some("im:write"),
        more_scopes: &[],
        why: "open a direct message for summaries",
    },
    Method {
        name: "conversations.history",
        token: Token::Bot,
        scope: Some("channels:history"),
        more_scopes: &["groups:history", "im:history"],
        why: "before reposting a message a crash interrupted, see whether it was posted",
    },
    Method {
        name: "chat.postMessage",
        token: Token::Bot,
        scope: Some("chat:write"),
        more_scopes: &[],
        why: "post the header and change notices",
    },
    Method {
        name: "chat.postEphemeral",
        token: Token::Bot,
        scope: Some("chat:write"),
        more_scopes: &[],
        why: "answer a case form's submitter privately",
    },
    Method {
        name: "chat.update",
        token: Token::Bot,
        scope: Some("chat:write"),
        more_scopes: &[],
        why: "keep the pinned header current",
    },
    Method {
        name: "pins.add",
        token: Token::Bot,
        scope: Some("pins:write"),
        more_scopes: &[],
        why: "pin the header",
    },
    Method {
        name: "files.getUploadURLExternal",
        token: Token::Bot,
        scope: Some("files:write"),
        more_scopes: &[],
        why: "upload alarm graphs and postmortem drafts",
    },
    Method {
        name: "files.completeUploadExternal",
        token: Token::Bot,
        scope: Some("files:write"),
        more_scopes: &[],
        why: "share an uploaded file in the incident channel",
    },
    Method {
        name: "usergroups.users.list",
        token: Token::Bot,
        scope: Some("usergroups:read"),
        more_scopes: &[],
        why: "invite an alarm route's user group; check who may open AWS Support cases",
    },
    Method {
        name: "users.info",
        token: Token::Bot,
        scope: Some("users:read"),
        more_scopes: &[],
        why: "show people by name in the postmortem, the timeline and the catch-up",
    },
    Method {
        name: "views.publish",
        token: Token::Bot,
        scope: None,
        more_scopes: &[],
        why: "show open incidents on the App Home tab",
    },
    Method {
        name: "views.open",
        token: Token::Bot,
        scope: None,
        more_scopes: &[],
        why: "open the AWS Support case form",
    },
];

/// Every event warroom handles.
pub const EVENTS: &[Event] = &[
    Event {
        subscription: "message.channels",
        scope: Some("channels:history"),
        why: "record what is said in incident channels",
    },
    Event {
        subscription: "message.groups",
        scope: Some("groups:history"),
        why: "record what is said in private incident channels",
    },
    Event {
        subscription: "reaction_added",
        scope: Some("reactions:read"),
        why: "a :pushpin: reaction marks a key event",
    },
    Event {
        subscription: "pin_added",
        scope: Some("pins:read"),
        why: "a pin marks a key event",
    },
    Event {
        subscription: "member_joined_channel",
        scope: Some("channels:read"),
        why: "send someone who joins an incident channel late what they missed",
    },
    Event {
        subscription: "app_home_opened",
        scope: None,
        why: "refresh the App Home tab when someone opens it",
    },
];

/// The method named `name`, if warroom calls it.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// The bot scopes the app must have, sorted: exactly what the methods, events and the
/// slash command need.
pub fn bot_scopes() -> Vec<String> {
    let mut scopes: BTreeSet<&str> = METHODS
        .iter()
        .filter(|m| m.token == Token::Bot)
        .flat_map(|m| m.scope.into_iter().chain(m.more_scopes.iter().copied()))
        .collect();
    scopes.extend(EVENTS.iter().filter_map(|e| e.scope));
    scopes.insert(SLASH_COMMAND_SCOPE);
    scopes.into_iter().map(String::from).collect()
}

/// What needs `scope` (for doctor's explanations): method names, event subscriptions and
/// the slash command.
pub fn needed_by(scope: &str) -> Vec<&'static str> {
    let mut who: Vec<&'static str> = METHODS
        .iter()
        .filter(|m| {
            m.token == Token::Bot && (m.scope == Some(scope) || m.more_scopes.contains(&scope))
        })
        .map(|m| m.name)
        .collect();
    who.extend(
        EVENTS
            .iter()
            .filter(|e| e.scope == Some(scope))
            .map(|e| e.subscription),
    );
    if scope == SLASH_COMMAND_SCOPE {
        who.push(SLASH_COMMAND);
    }
    who
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bot_scope_is_needed_by_something() {
        for scope in bot_scopes() {
            assert!(
                !needed_by(&scope).is_empty(),
                "{scope} is needed by nothing"
            );
        }
    }

    #[test]
    fn names_are_listed_once() {
        let methods: BTreeSet<_> = METHODS.iter().map(|m| m.name).collect();
        assert_eq!(methods.len(), METHODS.len());
        let events: BTreeSet<_> = EVENTS.iter().map(|e| e.subscription).collect();
        assert_eq!(events.len(), EVENTS.len());
    }
}
