//! The project's Python (`.venv`: SAM's translator, cfn-lint, boto3), found once per test
//! binary: when it is missing every test that needs it fails with one line, and the fix
//! is printed once.

use std::io::Write;
use std::sync::OnceLock;

pub fn python() -> &'static str {
    static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
        if std::path::Path::new(path).exists() {
            Ok(path.to_owned())
        } else {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(
                stderr,
                "\n{path} is missing: these tests run SAM's translator, cfn-lint and boto3 \
                 from the project's .venv. Fix: `scripts/test quick` makes it (scripts/lib.sh, ensure_venv).\n"
            );
            Err(format!(
                "{path} is missing (see the first failure for the fix)"
            ))
        }
    });
    match found {
        Ok(path) => path,
        Err(line) => panic!("{line}"),
    }
}

/// Runs a Python script of the tests (a path from the repository's root) with `.venv`'s
/// Python, `args` and `input` on standard input; it must succeed and print JSON.
pub fn run_json(script: &str, args: &[&str], input: &str) -> serde_json::Value {
    use std::process::{Command, Stdio};
    let python = python();
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test installs .venv)"));
    if let Some(mut stdin) = child.stdin.take() {
        // The script may exit before reading it; its own failure is reported below.
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{script} {args:?} printed no JSON: {e}"))
}
