//! Body validation and the header parsers: any bytes, no panic; what parses is valid; and
//! the patch parser agrees with a plain `serde_json::Value` parse on what JSON is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use update_connection::auth::{api_key, bearer_token};
use update_connection::domain::{Change, ConnectionId, Patch, PatchError, Precondition};

const KNOWN: [&str; 4] = ["customer_id", "email", "mobile", "status"];

/// The top-level member names in order, duplicates kept (a `Value` keeps only the last).
fn member_names(data: &[u8]) -> Option<Vec<String>> {
    struct Names;
    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut names = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                names.push(name);
            }
            Ok(names)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let names = serde::Deserializer::deserialize_map(&mut de, Names).ok()?;
    de.end().ok()?;
    Some(names)
}

fuzz_target!(|data: &[u8]| {
    let parsed = Patch::from_json(data);
    match (&parsed, serde_json::from_slice::<Value>(data)) {
        // Not JSON to serde_json: not JSON to the endpoint either.
        (parsed, Err(e)) => assert!(
            matches!(parsed, Err(PatchError::Malformed(_))),
            "serde_json rejects ({e}) but from_json gave {parsed:?}"
        ),
        (parsed, Ok(Value::Object(object))) => {
            let names = member_names(data).expect("an object Value has its members");
            let mut distinct = names.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), object.len());
            if distinct.len() < names.len() {
                // Parsers disagree on which copy of a member wins: neither is taken.
                assert!(
                    matches!(parsed, Err(PatchError::Malformed(_))),
                    "duplicate member, got {parsed:?}"
                );
            } else {
                assert!(
                    !matches!(parsed, Err(PatchError::Malformed(_))),
                    "{parsed:?}"
                );
                let unknown: Vec<&String> = object
                    .keys()
                    .filter(|k| !KNOWN.contains(&k.as_str()))
                    .collect();
                if !unknown.is_empty() {
                    // Every unknown member is named, whatever else the body holds.
                    let Err(PatchError::Invalid(errors)) = parsed else {
                        panic!("unknown members {unknown:?}, got {parsed:?}");
                    };
                    for name in unknown {
                        assert!(errors.iter().any(|e| &e.field == name), "{name} not named");
                    }
                }
            }
        }
        (parsed, Ok(other)) => assert!(
            matches!(parsed, Err(PatchError::Malformed(_))),
            "a non-object ({other}) gave {parsed:?}"
        ),
    }

    match parsed {
        Ok(patch) => {
            // Parse, don't validate: a Patch holds only valid values and asks for a change.
            if let Change::Set(email) = &patch.email {
                assert!(email.as_str().len() <= 254 && email.as_str().is_ascii());
            }
            if let Change::Set(mobile) = &patch.mobile {
                assert!(mobile.as_str().starts_with('+'));
            }
            if let Some(c) = &patch.customer_id {
                assert!(!c.as_str().is_empty() && !c.as_str().chars().any(char::is_control));
            }
            assert!(
                patch.disconnect
                    || patch.customer_id.is_some()
                    || patch.email != Change::Keep
                    || patch.mobile != Change::Keep
            );
        }
        Err(PatchError::Invalid(errors)) => assert!(!errors.is_empty()),
        Err(PatchError::Malformed(detail)) => assert!(!detail.is_empty()),
        Err(PatchError::Empty) => {}
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Precondition::parse(Some(text));
        let _ = bearer_token(Some(text));
        let _ = api_key(Some(text));
        if let Some(id) = ConnectionId::parse(text) {
            assert_eq!(id.as_str().len(), 26);
        }
    }
});
