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

/// scripts/expected_status.py, which scripts/run and scripts/sam-local replay the events
/// from: it must read the list as JSON, however it is laid out, and refuse to hand over a
/// list that differs from the files either way.
#[test]
fn the_scripts_event_list_is_read_as_json_and_must_match_the_files() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let helper = root.join("scripts/expected_status.py");
    let run = |dir: &std::path::Path| {
        let out = std::process::Command::new("python3")
            .arg(&helper)
            .arg(dir)
            .output()
            .expect("python3 runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // The real list: every event, with the status the replay test above holds it to.
    let events = root.join("events");
    let (ok, stdout, stderr) = run(&events);
    assert!(ok, "{stderr}");
    let expected: BTreeMap<String, u16> = serde_json::from_str(
        &std::fs::read_to_string(events.join("expected-status.json")).unwrap(),
    )
    .unwrap();
    let listed: Vec<String> = expected.iter().map(|(f, s)| format!("{f} {s}")).collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), listed);

    let dir = std::env::temp_dir().join(format!("expected-status-{}", std::process::id()));
    let case = |files: &[&str], list: &str| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            std::fs::write(dir.join(file), "{}").unwrap();
        }
        std::fs::write(dir.join("expected-status.json"), list).unwrap();
        run(&dir)
    };
    // All on one line, which a line-by-line reading would skip.
    let (ok, stdout, stderr) = case(&["b.json", "a.json"], r#"{"b.json": 404, "a.json": 200}"#);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "a.json 200\nb.json 404\n");

    for (files, list, says) in [
        (
            &["a.json", "b.json"][..],
            r#"{"a.json": 200}"#,
            "events/b.json has no entry",
        ),
        (
            &["a.json"][..],
            r#"{"a.json": 200, "gone.json": 404}"#,
            "lists gone.json",
        ),
        (
            &["a.json"][..],
            r#"{"a.json": 200, "a.json": 404}"#,
            "repeated keys: a.json",
        ),
        (
            &["a.json"][..],
            r#"{"a.json": "200"}"#,
            "is not an HTTP status",
        ),
        (
            &["a.json"][..],
            r#"{"a.json": true}"#,
            "is not an HTTP status",
        ),
        (
            &["a b.json"][..],
            r#"{"a b.json": 200}"#,
            "is not an event file name",
        ),
        (&["a.json"][..], r#"{"a.json": 200,}"#, "cannot read"),
        (
            &["a.json"][..],
            r#"[["a.json", 200]]"#,
            "is not a JSON object",
        ),
        (&[][..], "{}", "no events"),
    ] {
        let (ok, stdout, stderr) = case(files, list);
        assert!(!ok, "{list} with {files:?} was accepted: {stdout}");
        assert!(stdout.is_empty(), "{list}: a refused list printed {stdout}");
        assert!(
            stderr.contains(says),
            "{list}: expected {says:?}, got {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
