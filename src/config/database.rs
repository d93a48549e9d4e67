//! `[database]`: the URL (never with a password), failover, raw event retention.

use super::*;

/// Shortest `[database] failover_after`: the lease is renewed three times per period, and
/// each renewal is a round trip to the server.
pub(super) const MIN_FAILOVER_AFTER: Duration = Duration::from_secs(2);

/// Raw events are kept at least this long: Slack redelivers an event for up to about an
/// hour, and the inbox row is what recognises the redelivery.
pub const MIN_KEEP_RAW_EVENTS: Duration = Duration::from_secs(60 * 60);

#[derive(Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/warroom.db` (one process; the file is created, mode 0600, when
    /// missing) or `postgres://user@host:5432/database` (several replicas). May carry a
    /// password only when it comes from [`DATABASE_URL_VAR`]: show it with
    /// [`DatabaseConfig::shown_url`], never as is.
    pub url: String,
    /// PostgreSQL: how long the leader's lease lasts unrenewed. When the leader dies or is
    /// cut off, another replica takes over within about this long.
    pub failover_after: Duration,
    /// How long the raw events Slack sent are kept after they were applied (`"7d"` by
    /// default); `None` (`"forever"`) keeps them. What they recorded stays on the timeline.
    pub keep_raw_events: Option<Duration>,
}

impl DatabaseConfig {
    /// The URL with any password hidden, for messages and logs.
    pub fn shown_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.shown_url())
            .field("failover_after", &self.failover_after)
            .field("keep_raw_events", &self.keep_raw_events)
            .finish()
    }
}

/// `postgres://user:***@host/db`: a database URL with its password (in the authority or a
/// `password=` parameter) hidden.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let hide =
                        k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
                    (
                        k.into_owned(),
                        if hide { "***".into() } else { v.into_owned() },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Not a URL (a bare path): nothing in it is a password.
        Err(_) => url.to_string(),
    }
}

/// Whether a database URL carries a password.
pub(super) fn has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.password().is_some()
            || u.query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    })
}

/// Check a database URL (`key` names where it came from).
pub(super) fn check_database_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let parsed = url::Url::parse(url).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid(
                key,
                "names no host (postgres://user@host:5432/database)",
            ));
        }
        return Ok(());
    }
    Err(invalid(
        key,
        "use sqlite://path/to/warroom.db (one process) or postgres://user@host:5432/database \
         (several replicas)",
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) url: Option<String>,
    pub(super) failover_after: Option<String>,
    pub(super) keep_raw_events: Option<String>,
}

/// `[database] keep_raw_events`: a duration of at least an hour, or `"forever"`.
pub(super) fn keep_raw_events(
    raw: Option<String>,
    default: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "[database] keep_raw_events";
    match raw.as_deref().map(str::trim) {
        None => Ok(default),
        Some("forever") => Ok(None),
        Some(_) => {
            let keep = duration(KEY, raw, Duration::ZERO)?;
            at_least(KEY, keep, MIN_KEEP_RAW_EVENTS)?;
            Ok(Some(keep))
        }
    }
}

/// `[database]` checked: a URL without a password, a sane failover period, a retention
/// long enough to recognise redeliveries.
pub(super) fn database_config(
    raw: RawDatabase,
    defaults: &DatabaseConfig,
) -> Result<DatabaseConfig, ConfigError> {
    let db_url = raw.url.unwrap_or_else(|| defaults.url.clone());
    check_database_url("[database] url", &db_url)?;
    if has_password(&db_url) {
        return Err(invalid(
            "[database] url",
            format!(
                "carries a password; secrets stay out of the config file: set PGPASSWORD, \
                     or the whole URL in {DATABASE_URL_VAR}"
            ),
        ));
    }
    let failover_after = match raw.failover_after.as_deref() {
        None => defaults.failover_after,
        Some(text) => {
            let d = humantime::parse_duration(text)
                .map_err(|e| invalid("[database] failover_after", format!("\"{text}\": {e}")))?;
            if d < MIN_FAILOVER_AFTER || d > Duration::from_secs(600) {
                return Err(invalid(
                    "[database] failover_after",
                    "must be between 2s and 10m",
                ));
            }
            d
        }
    };
    Ok(DatabaseConfig {
        url: db_url,
        failover_after,
        keep_raw_events: keep_raw_events(raw.keep_raw_events, defaults.keep_raw_events)?,
    })
}
