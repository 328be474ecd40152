//! Behaviour that only a surviving mutant showed untested (TESTING.md, Mutation testing).
//! Each test names the mutant it catches.

use serde_json::json;

use crate::support::*;

/// Brackets that close before the next one opens are not nesting: a member holding many
/// sibling arrays or objects is a value of the wrong type (422), however many there are,
/// not JSON nested deeper than the contract's 128 levels (400). Catches
/// `patch.rs` `nested_deeper_than`: delete match arm `b']' | b'}'` (the depth never fell,
/// so 128 sibling brackets in all answered 400 malformed-body).
#[tokio::test]
async fn many_sibling_arrays_and_objects_are_a_wrong_type_not_deep_nesting() {
    let f = Fixture::new().await;
    for (what, value) in [
        ("arrays", format!("[{}[]]", "[],".repeat(200))),
        ("objects", format!("[{}{{}}]", "{},".repeat(200))),
    ] {
        let body = format!(r#"{{"email":{value}}}"#);
        let reply = f
            .refused(patch(ACTIVE, &body), 422, "validation-failed")
            .await;
        assert_eq!(
            reply.body["errors"],
            json!([{"field": "email", "message": "must be a string or null"}]),
            "{what}: {}",
            reply.body
        );
    }
}
