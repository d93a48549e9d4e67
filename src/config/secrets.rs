//! Secrets: taken only from the environment, never from the file, redacted in Debug.

use super::*;

/// The two Slack tokens. Debug never shows them; they are only ever read from the
/// environment, never from the config file or the database.
#[derive(Clone)]
pub struct Secrets {
    pub app_token: SecretString,
    pub bot_token: SecretString,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets { app_token: [redacted], bot_token: [redacted] }")
    }
}

impl Secrets {
    /// Read both tokens from the environment and check their shape (not their validity:
    /// that needs Slack, see `auth.test` at start).
    pub fn from_env() -> Result<Secrets, ConfigError> {
        let app = std::env::var(APP_TOKEN_VAR).map_err(|_| ConfigError::Secret {
            var: APP_TOKEN_VAR,
            problem: "not set; create an app-level token with connections:write (xapp-…)"
                .to_string(),
        })?;
        let bot = std::env::var(BOT_TOKEN_VAR).map_err(|_| ConfigError::Secret {
            var: BOT_TOKEN_VAR,
            problem: "not set; install the app and copy its Bot User OAuth Token (xoxb-…)"
                .to_string(),
        })?;
        Secrets::new(app, bot)
    }

    pub fn new(app_token: String, bot_token: String) -> Result<Secrets, ConfigError> {
        if !app_token.starts_with("xapp-") {
            return Err(ConfigError::Secret {
                var: APP_TOKEN_VAR,
                problem: "must be an app-level token starting with xapp-".to_string(),
            });
        }
        if !bot_token.starts_with("xoxb-") {
            return Err(ConfigError::Secret {
                var: BOT_TOKEN_VAR,
                problem: "must be a bot token starting with xoxb-".to_string(),
            });
        }
        Ok(Secrets {
            app_token: SecretString::from(app_token),
            bot_token: SecretString::from(bot_token),
        })
    }

    pub fn app_token(&self) -> &str {
        self.app_token.expose_secret()
    }

    pub fn bot_token(&self) -> &str {
        self.bot_token.expose_secret()
    }
}
