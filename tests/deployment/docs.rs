//! The docs a newcomer reads in an hour: every tracked Markdown file keeps its links working
//! and stays under its size cap, and all of them together under one.
//!
//! A link is whatever Markdown renders as one: `[text](target)` and reference definitions
//! (`[label]: target`), never text in code (fenced blocks at any indentation, and inline
//! code spans), which is an example. A relative target must exist inside the repository (a
//! file or a directory), and a `#anchor` must be a heading of the Markdown file it points
//! into. Every failure names the file and the line.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Bytes a page may hold: what a newcomer reads in a sitting.
const PAGE_CAP: usize = 16 * 1024;
/// Pages whose cap is not PAGE_CAP.
const CAPS: [(&str, usize); 2] = [
    // The contract: every status, member and decision on one page, which the tests read.
    ("docs/contract.md", 24 * 1024),
    // The front page fits on a few screens; the rest belongs in docs/.
    ("README.md", 8 * 1024),
];
/// All the Markdown together: the hour a newcomer has.
const TOTAL_CAP: usize = 80 * 1000;

/// Every tracked Markdown file, as its path from the root, listed by git as
/// `template::no_tracked_file_asks_sam_for_its_beta_flag` lists files. cargo-mutants tests
/// a copy of the tree that is not a git checkout (scripts/mutants): there the copy is walked.
fn markdown_files() -> Vec<String> {
    static FILES: OnceLock<Vec<String>> = OnceLock::new();
    FILES.get_or_init(list_markdown).clone()
}

fn list_markdown() -> Vec<String> {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "*.md"])
        .current_dir(ROOT)
        .output();
    let mut files: Vec<String> = match listed {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    if !files.iter().any(|f| f == "README.md") {
        eprintln!("docs: {ROOT} is not a git checkout: checking the Markdown found in the tree");
        files = Vec::new();
        walk(Path::new(ROOT), &mut files);
    }
    // Listed but deleted in this work tree: a link to it fails below.
    files.retain(|f| Path::new(ROOT).join(f).is_file());
    assert!(
        files.iter().any(|f| f == "README.md"),
        "no README.md among {files:?}"
    );
    files.sort();
    files
}

/// The Markdown under `dir`, past what git ignores here (build output, installed tools).
fn walk(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            let skipped = ["node_modules", "__pycache__"].contains(&name.as_ref())
                || name.starts_with('.')
                || name.starts_with("target");
            if !skipped {
                walk(&path, out);
            }
        } else if name.ends_with(".md") {
            let relative = path.strip_prefix(ROOT).unwrap();
            out.push(relative.to_string_lossy().into_owned());
        }
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text's lines as Markdown renders prose: code blanked to spaces (fenced blocks, at
/// any indentation, and inline code spans, which may wrap onto the next line of their
/// paragraph), so that positions and line numbers stay as they were. A block indented by
/// four spaces without a fence stays prose: telling it from a list item's continuation
/// needs the list's indentation, and a fence says the same plainly.
fn prose(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        if let Some((c, n)) = fence {
            if run(c) >= n && trimmed.trim_start_matches(c).trim().is_empty() {
                fence = None;
            }
            lines.push(String::new());
            continue;
        }
        let opened = ['`', '~']
            .into_iter()
            .map(|c| (c, run(c)))
            .find(|&(_, n)| n >= 3);
        // A backtick fence's info string holds no backtick (CommonMark): a line such as
        // ```a``` is an inline code span, not a fence.
        match opened {
            Some((c, n)) if c == '~' || !trimmed[n..].contains('`') => {
                fence = Some((c, n));
                lines.push(String::new());
            }
            _ => lines.push(line.to_owned()),
        }
    }
    // Inline code, one paragraph (lines up to a blank one) at a time.
    let mut start = 0;
    while start < lines.len() {
        let end = (start..lines.len())
            .find(|&i| lines[i].trim().is_empty())
            .unwrap_or(lines.len());
        if end > start {
            let blanked = blank_code_spans(&lines[start..end].join("\n"));
            for (i, line) in blanked.split('\n').enumerate() {
                lines[start + i] = line.to_owned();
            }
        }
        start = end + 1;
    }
    lines
}

/// Code spans replaced by spaces, line breaks kept: a run of n backticks opens one, the next
/// run of exactly n closes it; a run that nothing closes is literal text.
fn blank_code_spans(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let run_at = |b: &[u8], i: usize| b[i..].iter().take_while(|&&c| c == b'`').count();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' || (i > 0 && bytes[i - 1] == b'\\') {
            i += 1;
            continue;
        }
        let n = run_at(&bytes, i);
        let mut j = i + n;
        let close = loop {
            match bytes[j..].iter().position(|&c| c == b'`') {
                None => break None,
                Some(k) => {
                    let m = run_at(&bytes, j + k);
                    if m == n {
                        break Some(j + k + m);
                    }
                    j += k + m;
                }
            }
        };
        match close {
            Some(end) => {
                for b in &mut bytes[i..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = end;
            }
            None => i += n,
        }
    }
    // Only whole code spans, all of their bytes, became ASCII spaces.
    String::from_utf8(bytes).expect("still UTF-8")
}

/// Every link outside code, as (line, target): inline links and images, and reference
/// definitions (`[label]: target`; footnotes, `[^1]:`, are not links).
fn links(text: &str) -> Vec<(usize, String)> {
    let inline = regex::Regex::new(r"\]\(\s*(?:<([^>]*)>|([^\s)]+))").unwrap();
    let definition =
        regex::Regex::new(r"^\s*(?:>\s*)*\[[^\]^][^\]]*\]:\s*(?:<([^>]*)>|(\S+))").unwrap();
    let mut out = Vec::new();
    for (n, line) in prose(text).iter().enumerate() {
        let found = inline
            .captures_iter(line)
            .chain(definition.captures_iter(line));
        for c in found {
            let target = c.get(1).or(c.get(2)).unwrap().as_str();
            out.push((n + 1, target.to_owned()));
        }
    }
    out
}

/// GitHub's anchor for a heading's text: as rendered (a link's text, no markup), lower
/// case, punctuation dropped, each space a hyphen.
fn slug(heading: &str) -> String {
    let link = regex::Regex::new(r"!?\[([^\]]*)\]\([^)]*\)").unwrap();
    let tag = regex::Regex::new(r"<[^>]*>").unwrap();
    let text = link.replace_all(heading, "$1");
    tag.replace_all(&text, "")
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (ATX `## x` and setext, underlined), outside code; a
/// repeated heading's anchor gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let atx = regex::Regex::new(r"^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$").unwrap();
    let underline = regex::Regex::new(r"^ {0,3}(?:=+|-+)\s*$").unwrap();
    let lines = prose(text);
    let originals: Vec<&str> = text.lines().collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        // Headings keep their code spans as text: read them from the page itself.
        let original = originals[i];
        let heading = if atx.is_match(line) {
            atx.captures(original)
                .and_then(|c| c.get(1))
                .map_or("", |m| m.as_str())
        } else if i + 1 < lines.len()
            && underline.is_match(&lines[i + 1])
            && !line.trim().is_empty()
            && !lines[i + 1].trim().is_empty()
        {
            original.trim()
        } else {
            continue;
        };
        let base = slug(heading);
        let count = seen.entry(base.clone()).or_insert(0);
        out.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    out
}

/// `a/./b/../c` as `a/c`, or None when it climbs out of where it started.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// `%20` and the like, as a browser reads a link.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a link from `page` to `target` is broken, or None when it resolves (or leaves the
/// repository: a URL is not checked here).
fn broken(
    page: &str,
    target: &str,
    anchors_of: &mut impl FnMut(&Path) -> BTreeSet<String>,
) -> Option<String> {
    let scheme = regex::Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*:").unwrap();
    if scheme.is_match(target) || target.starts_with("//") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let path = percent_decoded(path.split('?').next().unwrap());
    let anchor = percent_decoded(anchor);
    // On GitHub a link starting with `/` starts at the repository's root.
    let joined = if path.is_empty() {
        PathBuf::from(page)
    } else if let Some(from_root) = path.strip_prefix('/') {
        PathBuf::from(from_root)
    } else {
        Path::new(page).parent().unwrap().join(&path)
    };
    let Some(relative) = normalize(&joined) else {
        return Some("outside the repository".into());
    };
    let resolved = Path::new(ROOT).join(&relative);
    if !resolved.exists() {
        return Some(format!("no such file or directory: {}", relative.display()));
    }
    if anchor.is_empty() {
        return None;
    }
    // A directory shows its README.md, whose headings its anchors name.
    let markdown = if resolved.is_dir() {
        resolved.join("README.md")
    } else {
        resolved
    };
    if markdown.extension().is_none_or(|e| e != "md") {
        return None; // a line anchor into source (#L10) and the like
    }
    if !markdown.is_file() {
        return Some(format!(
            "#{anchor}: {} has no README.md to hold it",
            relative.display()
        ));
    }
    if anchors_of(&markdown).contains(&anchor) {
        None
    } else {
        Some(format!(
            "no heading for #{anchor} in {}",
            relative.display()
        ))
    }
}

#[test]
fn every_link_in_the_markdown_resolves() {
    let mut cache: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut anchors_of = |path: &Path| {
        cache
            .entry(path.to_owned())
            .or_insert_with(|| anchors(&std::fs::read_to_string(path).unwrap()))
            .clone()
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for page in markdown_files() {
        for (line, target) in links(&read(&page)) {
            checked += 1;
            if let Some(why) = broken(&page, &target, &mut anchors_of) {
                failures.push(format!("{page}:{line}: ({target}): {why}"));
            }
        }
    }
    assert!(checked > 20, "only {checked} links found");
    assert!(
        failures.is_empty(),
        "broken links:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_markdown_page_fits_its_cap() {
    let mut over = Vec::new();
    for page in markdown_files() {
        let text = read(&page);
        let cap = CAPS
            .iter()
            .find(|(p, _)| *p == page)
            .map_or(PAGE_CAP, |&(_, cap)| cap);
        if text.len() > cap {
            // The line holding the first byte past the cap: where the page runs over.
            let line = text.as_bytes()[..cap]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            over.push(format!(
                "{page}:{line}: {} bytes, over its cap of {cap} from this line on",
                text.len()
            ));
        }
    }
    assert!(
        over.is_empty(),
        "pages over their cap:\n{}",
        over.join("\n")
    );
}

#[test]
fn all_the_markdown_together_fits_its_cap() {
    let mut sizes: Vec<(usize, String)> = markdown_files()
        .into_iter()
        .map(|page| (read(&page).len(), page))
        .collect();
    let total: usize = sizes.iter().map(|(size, _)| size).sum();
    sizes.sort_by(|a, b| b.cmp(a));
    let listed: Vec<String> = sizes
        .iter()
        .map(|(size, page)| format!("{page}:1: {size} bytes"))
        .collect();
    assert!(
        total <= TOTAL_CAP,
        "all tracked Markdown is {total} bytes, over its cap of {TOTAL_CAP}; largest first:\n{}",
        listed.join("\n")
    );
}

#[test]
fn the_walk_without_git_finds_every_tracked_page() {
    let mut walked = Vec::new();
    walk(Path::new(ROOT), &mut walked);
    let missed: Vec<String> = markdown_files()
        .into_iter()
        .filter(|page| !walked.contains(page))
        .map(|page| format!("{page}:1: tracked, but not found by the walk"))
        .collect();
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn the_link_reader_reads_markdown_as_github_renders_it() {
    let page = "\
# A `code` heading: [linked](x.md)
Text [one](a.md) and `[not](code.md)` and ``a ` [b](tick.md)``, a `span
[that](wraps.md)` and [two](<b c.md#d>).
[ref]: refs/ \"title\"
[^note]: not a link

  ```sh
  [fenced](indented.md)
  ```
~~~
[tilde](fence.md)
~~~
Setext heading
---
## A `code` heading: [linked](x.md)
";
    let targets: Vec<(usize, String)> = links(page);
    let expected = [
        (1, "x.md"),
        (2, "a.md"),
        (3, "b c.md#d"),
        (4, "refs/"),
        (15, "x.md"),
    ];
    assert_eq!(targets, expected.map(|(n, t)| (n, t.to_owned())).to_vec(),);
    let found = anchors(page);
    let expected = [
        "a-code-heading-linked",
        "a-code-heading-linked-1",
        "setext-heading",
    ];
    assert_eq!(found, expected.map(str::to_owned).into());
    assert_eq!(
        slug("The product contract: `PATCH /connections/{connection_id}`"),
        "the-product-contract-patch-connectionsconnection_id"
    );

    let mut anchors_of = |path: &Path| anchors(&std::fs::read_to_string(path).unwrap());
    let mut resolve = |page: &str, target: &str| broken(page, target, &mut anchors_of);
    for fine in [
        "../README.md",
        "contract.md#errors",
        "#status-and-code",
        "/docs/",
        "../src/http",
        "../src/http/problem.rs#L1",
        "https://example.com/nowhere.md",
    ] {
        assert_eq!(resolve("docs/contract.md", fine), None, "{fine}");
    }
    for wrong in [
        "nowhere.md",
        "contract.md#nowhere",
        "../../README.md",
        "../src/#anchor",
    ] {
        assert!(resolve("docs/contract.md", wrong).is_some(), "{wrong}");
    }
}
