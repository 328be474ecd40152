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
