//! Envelope and event decoding on arbitrary JSON: never a panic, and whatever is taken
//! survives the inbox round trip (it is stored as JSON and read back by the worker).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warroom::slack::inbound::Inbound;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let at = chrono::DateTime::from_timestamp(1_763_700_000, 0).unwrap_or_default();
    let event = value.get("event").unwrap_or(&value);
    let mut taken: Vec<Inbound> = Vec::new();
    taken.extend(warroom::slack::socket::translate_event(
        event, "U0WARBOT", at,
    ));
    let payload = value.get("payload").unwrap_or(&value);
    taken.extend(
        warroom::slack::socket::translate_interaction(payload, at)
            .into_iter()
            .map(|(_, inbound)| inbound),
    );
    for inbound in taken {
        let stored = serde_json::to_string(&inbound).expect("an inbound serialises");
        let back: Inbound = serde_json::from_str(&stored).expect("the inbox row reads back");
        assert_eq!(back, inbound);
    }
});
