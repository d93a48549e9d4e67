//! The `/incident` grammar on arbitrary text: never a panic, and a usage error echoes the
//! text escaped (no `<` reaches Slack).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = warroom::domain::command::parse(text) {
        let shown = warroom::slack::render::usage_error(&e);
        assert!(
            !shown.text.contains('<'),
            "unescaped usage error: {:?}",
            shown.text
        );
    }
});
