//! Checks shared by several sections: durations, minimums, regions, loopback URLs.

use super::*;

/// Whether `url` points at this machine: `localhost`, 127.0.0.0/8 or ::1.
pub(super) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(super) fn check_region(key: &str, region: &str) -> Result<(), ConfigError> {
    let well_formed = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if well_formed {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("\"{region}\" is not an AWS region name (like us-east-1)"),
        ))
    }
}

pub(super) fn at_least(key: &str, value: Duration, min: Duration) -> Result<(), ConfigError> {
    if value < min {
        Err(invalid(
            key,
            format!("must be at least {}", humantime::format_duration(min)),
        ))
    } else {
        Ok(())
    }
}

pub(super) fn duration(
    key: &str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(default),
        Some(text) => {
            let d = humantime::parse_duration(&text).map_err(|e| {
                invalid(
                    key,
                    format!(
                        "\"{text}\" is not a duration ({e}); write e.g. \"30s\", \"15m\", \"2h\""
                    ),
                )
            })?;
            if d.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
            Ok(d)
        }
    }
}
