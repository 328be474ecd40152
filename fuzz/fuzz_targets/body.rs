//! Body validation and the header parsers: any bytes, no panic; and what parses is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use update_connection::auth::{api_key, bearer_token};
use update_connection::domain::{Change, ConnectionId, Patch, PatchError, Precondition};

fuzz_target!(|data: &[u8]| {
    match Patch::from_json(data) {
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
