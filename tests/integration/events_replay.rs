//! Every file in events/ through the function, against freshly seeded tables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::*;

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let expected: BTreeMap<String, u16> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-status.json")).unwrap())
            .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && name != "expected-status.json")
        .collect();
    files.sort();
    assert_eq!(
        files,
        expected.keys().cloned().collect::<Vec<_>>(),
        "expected-status.json lists every event"
    );

    // One seeded world for all of them, in order: each event works on its own connection,
    // so the order does not matter, and a second pass gets the same answers (idempotent).
    let f = Fixture::new().await;
    for pass in 0..2 {
        for (file, status) in &expected {
            let event =
                serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            let reply = f.send(event).await;
            assert_eq!(reply.status, *status, "pass {pass}, {file}: {}", reply.body);
        }
    }
}
