//! Why handling an event failed, and what the person who asked is told: a reference, never
//! the error (the full chain goes to the log under that reference).

use crate::slack::web::SlackError;
use crate::store::StoreError;

/// Attempts before an event that keeps failing transiently is set aside. With [`backoff`],
/// that is six to seven minutes of a failing Slack: long enough to ride out an outage
/// without abandoning a declare half set up, short enough not to hold the queue for ever
/// behind an event that cannot succeed.
pub(super) const MAX_ATTEMPTS: i64 = 60;

/// Attempts before an event that hit a store error retrying is unlikely to fix (a
/// constraint violation, a row that does not decode) is set aside: a second of the one
/// worker's time, not minutes.
pub(super) const STUCK_ATTEMPTS: i64 = 3;

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Worth retrying for minutes (Slack 5xx/429/timeouts, a busy or full database).
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// A store error retrying is unlikely to fix (a constraint violation, a row that does
    /// not decode): a few quick attempts, then the event is set aside.
    #[error("{0:#}")]
    Stuck(anyhow::Error),
    /// Retrying cannot help; the event is set aside at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl Failure {
    pub(crate) fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Transient(e) | Failure::Stuck(e) | Failure::Permanent(e) => e,
        }
    }

    /// This replica stopped leading while it handled the event: not the event's fault.
    pub(super) fn is_not_leader(&self) -> bool {
        self.error()
            .chain()
            .any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::NotLeader)))
    }

    /// Attempts before the event is set aside.
    pub(super) fn attempts_allowed(&self) -> i64 {
        match self {
            Failure::Transient(_) => MAX_ATTEMPTS,
            Failure::Stuck(_) => STUCK_ATTEMPTS,
            Failure::Permanent(_) => 1,
        }
    }

    /// Say what this failure means to the person who asked, should the event be set aside
    /// ("the postmortem draft could not be posted"); they are shown that and a reference,
    /// never the error itself.
    pub(crate) fn for_caller(self, what: impl Into<String>) -> Failure {
        let note = ForCaller(what.into());
        match self {
            Failure::Transient(e) => Failure::Transient(e.context(note)),
            Failure::Stuck(e) => Failure::Stuck(e.context(note)),
            Failure::Permanent(e) => Failure::Permanent(e.context(note)),
        }
    }
}

/// What a failure means to the person who asked (see [`Failure::for_caller`]).
#[derive(Debug)]
pub(super) struct ForCaller(pub(super) String);

impl std::fmt::Display for ForCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<SlackError> for Failure {
    fn from(e: SlackError) -> Self {
        if e.is_transient() {
            Failure::Transient(e.into())
        } else {
            Failure::Permanent(e.into())
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Failure::Transient(e.into())
        } else {
            Failure::Stuck(e.into())
        }
    }
}

/// The reference an event's failure is known by: to the person who asked, in the log, in
/// the status channel's notice and in `warroom inbox --failed`.
pub(crate) fn event_reference(inbox_id: i64) -> String {
    format!("ev-{inbox_id}")
}

/// A failure that is not an event's (a notice Slack refused, an AWS call): logged under a
/// fresh reference, which is what the person sees.
pub(crate) fn fresh_reference() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let code: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("ref-{code}")
}

/// Tell a person that something failed on warroom's side: `what` it means for them and a
/// reference; the error's full chain goes to the log under the same reference.
pub(crate) fn internal_error(
    what: &str,
    reference: &str,
    error: &dyn std::fmt::Display,
) -> crate::slack::web::Outgoing {
    tracing::error!(reference, error = %error, "{what}");
    crate::slack::render::internal_error(what, reference)
}
