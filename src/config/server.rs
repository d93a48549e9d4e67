//! `[server]`: the optional ops HTTP listener.

use super::*;

#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Where to serve `/healthz`, `/readyz` and `/metrics` (plain HTTP); off when `None`.
    /// Port 0 picks a free port (tests).
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<String>,
}

/// `[server] listen`: an IP address and port; names are refused so what is bound is
/// exactly what was written.
pub(super) fn listen_address(text: &str) -> Result<std::net::SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        invalid(
            "[server] listen",
            format!(
                "\"{text}\" is not an IP address and port like \"127.0.0.1:9090\" or \"[::]:9090\""
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ops_listener_is_off_unless_an_address_is_given() {
        assert_eq!(Config::parse("").unwrap().server.listen, None);
        let c = Config::parse("[server]\nlisten = \"127.0.0.1:9090\"").unwrap();
        assert_eq!(c.server.listen, Some("127.0.0.1:9090".parse().unwrap()));
        let v6 = Config::parse("[server]\nlisten = \"[::]:9090\"").unwrap();
        assert_eq!(v6.server.listen.map(|a| a.port()), Some(9090));
    }
}
