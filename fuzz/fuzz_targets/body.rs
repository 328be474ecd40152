//! Body validation and the header parsers: any bytes, no panic; what parses is valid; and
//! the patch parser agrees with a plain `serde_json::Value` parse on what JSON is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use update_connection::auth::{api_key, bearer_token};
use update_connection::domain::{Change, ConnectionId, Patch, PatchError, Precondition};

/// serde_json's private key: with its `raw_value` feature (on in this build), a `Value`
/// reads an object whose key is this as raw JSON held in a string, so valid JSON such as
/// `{"$serde_json::private::RawValue":"x"}` is an error to `Value` alone.
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// Walks any JSON value as `Value` would (same depth limit, same number range) but without
/// the private key, collecting every object key at every depth.
struct Walk<'a>(&'a mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.0.push(key);
            map.next_value_seed(Walk(&mut *self.0))?;
        }
        Ok(())
    }
}

/// Every object key in the document, or `None` if it is not JSON.
fn all_keys(data: &[u8]) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(data);
    Walk(&mut keys).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(keys)
}

/// The top-level member names in order, duplicates kept (a `Value` keeps only the last).
fn member_names(data: &[u8]) -> Option<Vec<String>> {
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut names = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                names.push(name);
            }
            Ok(names)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let names = de.deserialize_map(Names).ok()?;
    de.end().ok()?;
    Some(names)
}

fuzz_target!(|data: &[u8]| {
    let parsed = Patch::from_json(data);
    // What a plain parse says: not JSON (why), an object (its member names, duplicates
    // kept, since a `Value` keeps only the last), or another value.
    let private = all_keys(data).is_some_and(|keys| keys.iter().any(|k| k == RAW_VALUE_KEY));
    let plain: Result<Option<Vec<String>>, String> = if private {
        // `Value` would misread the private key; the walk judges as it would otherwise.
        Ok(member_names(data))
    } else {
        match serde_json::from_slice::<Value>(data) {
            Err(e) => Err(e.to_string()),
            Ok(Value::Object(object)) => {
                let names = member_names(data).expect("an object Value has its members");
                assert!(names.iter().all(|n| object.contains_key(n)));
                Ok(Some(names))
            }
            Ok(_) => Ok(None),
        }
    };
    match plain {
        // Not JSON to serde_json: not JSON to the endpoint either.
        Err(e) => assert!(
            matches!(parsed, Err(PatchError::Malformed(_))),
            "serde_json rejects ({e}) but from_json gave {parsed:?}"
        ),
        Ok(None) => assert!(
            matches!(parsed, Err(PatchError::Malformed(_))),
            "a non-object gave {parsed:?}"
        ),
        Ok(Some(names)) => {
            let mut distinct = names.clone();
            distinct.sort_unstable();
            distinct.dedup();
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
                let unknown: Vec<&String> = distinct
                    .iter()
                    .filter(|k| contract_model::member(k).is_none())
                    .collect();
                if !unknown.is_empty() {
                    // Every unknown member is named, whatever else the body holds.
                    let Err(PatchError::Invalid(errors)) = &parsed else {
                        panic!("unknown members {unknown:?}, got {parsed:?}");
                    };
                    for name in unknown {
                        assert!(errors.iter().any(|e| &e.field == name), "{name} not named");
                    }
                }
            }
        }
    }

    match parsed {
        Ok(patch) => {
            // The parser asks for exactly the changes the contract's model reads in the body.
            let body: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
            let mut model: Vec<(&str, Option<String>)> = contract_model::changes(&body)
                .into_iter()
                .map(|(m, c)| match c {
                    contract_model::Change::Remove => (m.name, None),
                    contract_model::Change::Set(v) => (m.name, Some(v)),
                })
                .collect();
            let mut parsed: Vec<(&str, Option<String>)> = Vec::new();
            for (m, c) in patch.changes() {
                match c {
                    Change::Keep => panic!("{m:?}: changes() lists only changes"),
                    Change::Remove => parsed.push((m.name(), None)),
                    // Parse, don't validate: a value a Patch holds parses as itself.
                    Change::Set(v) => {
                        assert_eq!(m.parse(v).as_deref(), Ok(v.as_str()));
                        parsed.push((m.name(), Some(v.clone())));
                    }
                }
            }
            model.sort();
            parsed.sort();
            assert_eq!(parsed, model);
            assert!(!parsed.is_empty());
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
