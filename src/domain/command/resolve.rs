//! `resolve` and `postmortem`: closing an incident.

macro_rules! resolve_usage {
    () => {
        "/incident resolve [note] — resolve the incident, with an optional closing note"
    };
}
macro_rules! postmortem_usage {
    () => {
        "/incident postmortem — draft the postmortem and upload it here as a Markdown file"
    };
}
pub(super) const RESOLVE_USAGE: &str = resolve_usage!();
pub(super) const POSTMORTEM_USAGE: &str = postmortem_usage!();

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    #[test]
    fn table() {
        check(vec![
            // resolve
            ("resolve", K(resolve(None))),
            ("RESOLVE   ", K(resolve(None))),
            (
                "resolve pool size raised",
                K(resolve(Some("pool size raised"))),
            ),
            (
                "resolve   spaced   note  ",
                K(resolve(Some("spaced   note"))),
            ),
        ]);
    }
}
