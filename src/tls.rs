//! The process-wide TLS set-up, at the bottom of the layers so that every adapter (the
//! Socket Mode client, the probes) and start-up (`app`, the demo, the load driver) can
//! call it without importing the layer that assembles the bot.

/// The process-wide rustls crypto provider: ring, the only one linked (Cargo.toml says why).
/// Clients that pick their provider explicitly (the AWS SDK's) do not depend on it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
