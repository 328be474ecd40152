//! The function's members (`domain::Member`) against the contract's model and
//! docs/contract.md: a member added to one and not the others fails here, by name.

use update_connection::domain::Member;

#[test]
fn the_contract_model_knows_every_member_alike() {
    for m in Member::ALL {
        let model = contract_model::member(m.name())
            .unwrap_or_else(|| panic!("{}: add it to contract-model's MEMBERS", m.name()));
        assert_eq!(model.removable, m.removable(), "{}: removable", m.name());
        assert_eq!(model.stamps, m.stamps(), "{}: stamps", m.name());
        // One value only, both ways: the model names it exactly when the function takes
        // nothing else (its wrong-type text says so, and it has no length).
        assert_eq!(
            model.only.is_some(),
            m.max_len().is_none(),
            "{}: contract-model's `only` and the function disagree",
            m.name()
        );
        if let Some(only) = model.only {
            assert_eq!(m.parse(only).as_deref(), Ok(only), "{}", m.name());
            assert!(m.wrong_type().contains(only), "{}", m.name());
        }
    }
    let unknown: Vec<&str> = contract_model::MEMBERS
        .iter()
        .map(|m| m.name)
        .filter(|name| Member::from_name(name).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "contract-model has members the function does not know: {unknown:?}"
    );
}

#[test]
fn docs_contract_describes_every_member() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract.md");
    let doc = std::fs::read_to_string(path).expect("docs/contract.md");
    let body = doc
        .split_once("### Body")
        .map(|(_, rest)| rest)
        .expect("a Body section");
    for m in Member::ALL {
        let row = format!("| `{}` |", m.name());
        // The table of stored attributes, then the body's table with what `null` does.
        assert!(
            doc.split_once("### Body")
                .is_some_and(|(head, _)| head.contains(&row)),
            "docs/contract.md: {} is not in the attributes table",
            m.name()
        );
        let line = body
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("docs/contract.md: {} is not in the body's table", m.name()));
        assert_eq!(
            line.contains("removes"),
            m.removable(),
            "docs/contract.md: what null does to {}",
            m.name()
        );
    }
}

/// docs/contract.md's "Status and code" table is the catalogue: every code the function
/// answers with (`ProblemCode::ALL`) and every code of the edge (`EDGE_PROBLEMS`), each at
/// its status, and nothing else.
#[test]
fn docs_contract_lists_every_problem_code_at_its_status() {
    use std::collections::BTreeSet;
    use update_connection::http::ProblemCode;
    use update_connection::http::problem::EDGE_PROBLEMS;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract.md");
    let doc = std::fs::read_to_string(path).expect("docs/contract.md");
    let table = doc
        .split_once("### Status and code")
        .map(|(_, rest)| rest)
        .expect("a Status and code section");
    let mut listed = BTreeSet::new();
    for line in table.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(status) = cells[1].parse::<u16>() else {
            continue; // the header and its rule
        };
        for code in cells[2].split(',') {
            listed.insert((
                status,
                code.trim().trim_matches('`').to_owned(),
                cells[3].to_owned(),
            ));
        }
    }
    let mut expected: BTreeSet<(u16, String, String)> = ProblemCode::ALL
        .iter()
        .map(|c| (c.status(), c.as_str().to_owned(), "contract".to_owned()))
        .collect();
    expected.extend(
        EDGE_PROBLEMS
            .iter()
            .map(|e| (e.status, e.code.to_owned(), "edge".to_owned())),
    );
    assert_eq!(
        listed,
        expected,
        "docs/contract.md's table: missing {:?}, not a code of the function or the edge {:?}",
        expected.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&expected).collect::<Vec<_>>()
    );
}
