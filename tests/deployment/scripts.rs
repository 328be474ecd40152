//! Every script answers `--help` with its header, before it installs, builds or starts
//! anything (scripts/test's help says the scripts read their own knobs there).

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_script_answers_help_before_doing_anything() {
    let mut checked = 0;
    for dir in ["scripts", "perf/scripts", ".ci"] {
        for entry in std::fs::read_dir(format!("{ROOT}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let name = path.strip_prefix(ROOT).unwrap().display().to_string();
            // Bash scripts that run (lib.sh and lib-sam.sh are sourced; .ci/run only execs
            // scripts/test, which answers for it).
            if !text.starts_with("#!/usr/bin/env bash") || name == ".ci/run" {
                continue;
            }
            assert!(
                text.contains("help_if_asked \"$0\" \"$@\""),
                "{name} does not answer --help (scripts/lib.sh, help_if_asked)"
            );
            let out = Command::new("bash")
                .arg(&path)
                .arg("--help")
                .current_dir(ROOT)
                .output()
                .unwrap();
            let shown = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && shown.lines().count() >= 2,
                "{name} --help: {shown}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} scripts found");
}
