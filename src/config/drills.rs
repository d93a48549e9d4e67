//! `[drills]`: rehearsal incidents and who they notify.

use super::*;

/// `[drills]`: rehearsal incidents (`/incident drill`, `warroom drill`).
#[derive(Debug, Clone, Default)]
pub struct DrillsConfig {
    /// `[drills] targets`: how soon each scorecard milestone should be reached
    /// (`first_response`, `lead`, `identified`, `aws_decision`, `resolve`).
    pub targets: crate::domain::drill::Targets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrills {
    #[serde(default)]
    pub(super) targets: RawDrillTargets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrillTargets {
    pub(super) first_response: Option<String>,
    pub(super) lead: Option<String>,
    pub(super) identified: Option<String>,
    pub(super) aws_decision: Option<String>,
    pub(super) resolve: Option<String>,
}

/// `[drills] targets`: each a duration, defaulting to [`Targets::default`].
///
/// [`Targets::default`]: crate::domain::drill::Targets
pub(super) fn drills_config(raw: RawDrills) -> Result<DrillsConfig, ConfigError> {
    let d = crate::domain::drill::Targets::default();
    let one = |key: &str, raw: Option<String>, default: chrono::Duration| {
        let std_default = default.to_std().unwrap_or(Duration::from_secs(60));
        let got = duration(&format!("[drills] targets.{key}"), raw, std_default)?;
        chrono::Duration::from_std(got)
            .map_err(|_| invalid(&format!("[drills] targets.{key}"), "is too long"))
    };
    let t = raw.targets;
    Ok(DrillsConfig {
        targets: crate::domain::drill::Targets {
            first_response: one("first_response", t.first_response, d.first_response)?,
            lead: one("lead", t.lead, d.lead)?,
            identified: one("identified", t.identified, d.identified)?,
            aws_decision: one("aws_decision", t.aws_decision, d.aws_decision)?,
            resolve: one("resolve", t.resolve, d.resolve)?,
        },
    })
}
