//! `[postmortem]`: draft templates and links.

use super::*;

/// `[postmortem]`: where custom templates live and how the draft is cut.
#[derive(Debug, Clone)]
pub struct PostmortemConfig {
    /// `*.tera` files here replace the shipped templates of the same name (relative paths
    /// are relative to the working directory). Checked at start and by `check-config`.
    pub template_dir: Option<std::path::PathBuf>,
    /// Quiet spells longer than this many minutes are called out in the draft.
    pub gap_minutes: u32,
    /// The message log appendix stops before it passes this many bytes of Markdown, so the
    /// uploaded file stays small; key events are never cut.
    pub appendix_max_bytes: usize,
}

impl Default for PostmortemConfig {
    fn default() -> Self {
        PostmortemConfig {
            template_dir: None,
            gap_minutes: 30,
            appendix_max_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostmortem {
    pub(super) template_dir: Option<String>,
    pub(super) gap_minutes: Option<i64>,
    pub(super) appendix_max_bytes: Option<i64>,
}

pub(super) fn postmortem_config(raw: RawPostmortem) -> Result<PostmortemConfig, ConfigError> {
    let defaults = PostmortemConfig::default();
    let template_dir = match raw.template_dir {
        Some(dir) if dir.trim().is_empty() => {
            return Err(invalid(
                "[postmortem] template_dir",
                "is empty; remove the key to use the shipped templates",
            ))
        }
        dir => dir.map(std::path::PathBuf::from),
    };
    let gap_minutes = match raw.gap_minutes {
        None => defaults.gap_minutes,
        Some(m) => u32::try_from(m)
            .ok()
            .filter(|m| (1..=7 * 24 * 60).contains(m))
            .ok_or_else(|| {
                invalid(
                    "[postmortem] gap_minutes",
                    format!("{m} is out of range: use 1 to 10080 minutes (a week)"),
                )
            })?,
    };
    const MAX_APPENDIX: i64 = 50 * 1024 * 1024;
    let appendix_max_bytes = match raw.appendix_max_bytes {
        None => defaults.appendix_max_bytes,
        Some(b) => usize::try_from(b)
            .ok()
            .filter(|_| (1024..=MAX_APPENDIX).contains(&b))
            .ok_or_else(|| {
                invalid(
                    "[postmortem] appendix_max_bytes",
                    format!("{b} is out of range: use 1024 to {MAX_APPENDIX} bytes"),
                )
            })?,
    };
    Ok(PostmortemConfig {
        template_dir,
        gap_minutes,
        appendix_max_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmortem_defaults_and_values() {
        let c = Config::parse("").unwrap().postmortem;
        assert_eq!(c.template_dir, None);
        assert_eq!(c.gap_minutes, 30);
        assert_eq!(c.appendix_max_bytes, 256 * 1024);
        let c = Config::parse(
            "[postmortem]\ntemplate_dir = \"/etc/warroom/templates\"\ngap_minutes = 45\nappendix_max_bytes = 100000",
        )
        .unwrap()
        .postmortem;
        assert_eq!(
            c.template_dir.as_deref(),
            Some(std::path::Path::new("/etc/warroom/templates"))
        );
        assert_eq!(c.gap_minutes, 45);
        assert_eq!(c.appendix_max_bytes, 100_000);
    }

    #[test]
    fn postmortem_errors_name_the_key() {
        for (text, key) in [
            ("[postmortem]\ngap_minutes = 0", "[postmortem] gap_minutes"),
            ("[postmortem]\ngap_minutes = -5", "[postmortem] gap_minutes"),
            (
                "[postmortem]\nappendix_max_bytes = 10",
                "[postmortem] appendix_max_bytes",
            ),
            (
                "[postmortem]\ntemplate_dir = \" \"",
                "[postmortem] template_dir",
            ),
            ("[postmortem]\ntemplates = \"x\"", "templates"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
            assert!(!err.ends_with('.'), "{err}");
        }
    }
}
