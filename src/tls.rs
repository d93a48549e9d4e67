//! TLS set-up shared by every client that connects out (Slack's Web API and Socket Mode,
//! the operator probes): below `app`, `slack` and `ops`, so none of them imports upward
//! for it.

/// The process-wide rustls crypto provider: ring, the only one linked (Cargo.toml says why).
/// Clients that pick their provider explicitly (the AWS SDK's) do not depend on it.
/// Installing it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
