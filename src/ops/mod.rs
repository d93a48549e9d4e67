//! Operating warroom: what an operator or an orchestrator asks of a running bot, and the
//! one-off operator commands.
//!
//! - [`metrics`]: the counters behind `/metrics` (Prometheus text).
//! - [`health`]: the optional HTTP listener (`[server] listen`): `/healthz`, `/readyz`,
//!   `/metrics`.
//! - [`probe`]: raw Slack checks that need what slack-morphism hides (response headers, the
//!   first Socket Mode frame).
//! - [`doctor`]: `warroom doctor`, a checklist of live checks, each failure with its fix.

pub mod doctor;
pub mod health;
pub mod metrics;
pub mod probe;
