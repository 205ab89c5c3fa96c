//! The README stays true to the code: its stage table names exactly the registered stage
//! types, and its "Writing a stage" example is the code of `examples/custom_stage.rs`.

use std::collections::BTreeSet;

fn readme() -> String {
    let path = neuropipe_testkit::workspace_root().join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of `text` from the first line containing `start` to the next line containing
/// `end` (both excluded).
fn section<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.contains(start))
        .skip(1)
        .take_while(|l| !l.contains(end))
        .collect()
}

#[test]
fn readme_stage_table_lists_every_registered_stage_type() {
    let mut registry = neuropipe_stages::registry();
    neuropipe_lsl::register(&mut registry);
    neuropipe_brainflow::register(&mut registry);
    let registered: BTreeSet<String> = registry.names().map(str::to_string).collect();
    let text = readme();
    let table = section(&text, "| kind | stage types |", "Filters keep their state");
    assert!(table.len() > 3, "README: stage table not found");
    // Every `CamelCase` name in the table's second column.
    let mut listed = BTreeSet::new();
    for row in table
        .iter()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
    {
        let types = row.split('|').nth(2).unwrap_or("");
        for (i, chunk) in types.split('`').enumerate() {
            let is_code = i % 2 == 1;
            if is_code && chunk.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                listed.insert(chunk.to_string());
            }
        }
    }
    let missing: Vec<_> = registered.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&registered).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README stage table: not listed {missing:?}; listed but not registered {unknown:?}"
    );
}

#[test]
fn readme_stage_example_is_the_example_program() {
    let root = neuropipe_testkit::workspace_root();
    let example = std::fs::read_to_string(root.join("examples/custom_stage.rs")).unwrap();
    let stage = section(&example, "// --- the stage", "// --- end of the stage");
    let text = readme();
    let block = section(&text, "use neuropipe_core::prelude::*;", "```");
    let trim = |v: Vec<&str>| -> Vec<String> {
        let s = v.join("\n");
        s.trim().lines().map(str::to_string).collect()
    };
    assert_eq!(
        trim(block),
        trim(stage),
        "README's \"Writing a stage\" differs from examples/custom_stage.rs: copy the block between the `// ---` markers"
    );
}
