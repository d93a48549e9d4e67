//! Operating warroom: what an operator or an orchestrator asks of a running bot, and the
//! one-off operator commands.
//!
//! - `/metrics` renders [`crate::metrics`] (the counters live at the bottom of the crate, so
//!   the adapters that count need not import `ops`).
//! - [`health`]: the optional HTTP listener (`[server] listen`): `/healthz`, `/readyz`,
//!   `/metrics`.
//! - [`probe`]: raw Slack checks that need what slack-morphism hides (response headers, the
//!   first Socket Mode frame).
//! - [`doctor`]: `warroom doctor`, a checklist of live checks, each failure with its fix.

pub mod doctor;
pub mod health;
pub mod probe;
