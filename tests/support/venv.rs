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
