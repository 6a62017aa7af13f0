//! The classifier against real servers' tools, each labelled by a person.
//!
//! `corpus/<server>.json` is what `corpus/collect.py` recorded from each server's `tools/list`
//! (package and version inside); `corpus/labels.json` holds the labels. The test prints accuracy
//! per class, the confusion matrix and every miss (run with `--nocapture` to see them), and fails
//! when overall accuracy drops under 95 % or when any tool a person labelled `destructive`,
//! `financial`, `execute` or `credential` is classed `read`, the one class a starter policy
//! allows without a human.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "the corpus loader fails the test on a missing file or label"
)]

use std::collections::BTreeMap;
use std::path::Path;

use airlock_classify::{Class, classify};
use serde_json::Value;

struct Case {
    server: String,
    tool: Value,
    name: String,
    label: Class,
}

fn load() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json")).unwrap()).unwrap();
    let mut cases = Vec::new();
    let mut servers = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            !["labels.json", "servers.json"].contains(&p.file_name().unwrap().to_str().unwrap())
        })
        .collect();
    files.sort();
    for path in files {
        let record: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let server = record["server"].as_str().unwrap().to_string();
        assert!(
            record["source"]["package"].is_string() && record["source"]["version"].is_string(),
            "{}: no package and version recorded",
            path.display()
        );
        let server_labels = labels[&server]
            .as_object()
            .unwrap_or_else(|| panic!("labels.json has no section `{server}`"));
        let tools = record["tools"].as_array().unwrap();
        for tool in tools {
            let name = tool["name"].as_str().unwrap().to_string();
            let label = server_labels
                .get(&name)
                .unwrap_or_else(|| panic!("labels.json: `{server}` has no label for `{name}`"));
            let label = label.get("class").unwrap_or(label).as_str().unwrap();
            let label = Class::from_name(label)
                .unwrap_or_else(|| panic!("labels.json: `{server}.{name}`: no class `{label}`"));
            cases.push(Case {
                server: server.clone(),
                tool: tool.clone(),
                name,
                label,
            });
        }
        for name in server_labels.keys() {
            assert!(
                tools.iter().any(|t| t["name"] == name.as_str()),
                "labels.json: `{server}.{name}` is not a tool of the recorded server"
            );
        }
        servers.push(server);
    }
    for section in labels.as_object().unwrap().keys() {
        assert!(
            section.starts_with('_') || servers.contains(section),
            "labels.json: `{section}` has no recorded server"
        );
    }
    cases
}

#[test]
fn real_tools_are_classed_as_a_person_would() {
    let cases = load();
    assert!(
        cases.len() >= 200,
        "the corpus has only {} tools",
        cases.len()
    );
    let mut matrix: BTreeMap<(Class, Class), usize> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut unsafe_reads = Vec::new();
    for case in &cases {
        let result = classify(&case.tool);
        *matrix.entry((case.label, result.class)).or_default() += 1;
        if result.class != case.label {
            misses.push(format!(
                "  {}.{}: labelled {}, classed {} ({})",
                case.server,
                case.name,
                case.label,
                result.class,
                result.summary()
            ));
            if result.class == Class::Read && case.label.needs_a_human() {
                unsafe_reads.push(format!("{}.{}", case.server, case.name));
            }
        }
    }

    let total = cases.len();
    let right: usize = Class::ALL
        .iter()
        .map(|&c| matrix.get(&(c, c)).copied().unwrap_or(0))
        .sum();
    println!("\n{total} tools from {} servers", {
        let mut s: Vec<_> = cases.iter().map(|c| &c.server).collect();
        s.dedup();
        s.len()
    });
    println!("{:<14} {:>6} {:>8}", "class", "tools", "correct");
    for class in Class::ALL {
        let labelled: usize = Class::ALL
            .iter()
            .map(|&p| matrix.get(&(class, p)).copied().unwrap_or(0))
            .sum();
        if labelled == 0 {
            continue;
        }
        let correct = matrix.get(&(class, class)).copied().unwrap_or(0);
        println!(
            "{:<14} {labelled:>6} {:>7.1}%",
            class.as_str(),
            100.0 * correct as f64 / labelled as f64
        );
    }
    println!("\nconfusion matrix (rows: label, columns: classed as)");
    print!("{:<14}", "");
    for class in Class::ALL {
        print!(" {:>5}", &class.as_str()[..5.min(class.as_str().len())]);
    }
    println!();
    for label in Class::ALL {
        print!("{:<14}", label.as_str());
        for predicted in Class::ALL {
            print!(
                " {:>5}",
                matrix.get(&(label, predicted)).copied().unwrap_or(0)
            );
        }
        println!();
    }
    let accuracy = right as f64 / total as f64;
    println!("\noverall: {right}/{total} = {:.1}%", 100.0 * accuracy);
    println!("misses:\n{}", misses.join("\n"));

    assert!(
        unsafe_reads.is_empty(),
        "tools that need a human were classed `read`: {unsafe_reads:?}"
    );
    assert!(
        accuracy >= 0.95,
        "accuracy {:.1}% is under 95%",
        100.0 * accuracy
    );
}

#[test]
fn the_starter_policy_of_every_corpus_server_loads_and_asks_where_it_should() {
    let cases = load();
    let mut servers: Vec<&str> = cases.iter().map(|c| c.server.as_str()).collect();
    servers.dedup();
    for server in servers {
        let tools: Vec<Value> = cases
            .iter()
            .filter(|c| c.server == server)
            .map(|c| c.tool.clone())
            .collect();
        let proposal = airlock_classify::starter::propose(&tools);
        let text = proposal.to_text();
        if let Err(diagnostics) = airlock_policy::Policy::parse(&text, server) {
            panic!("the starter policy of `{server}` does not load: {diagnostics}\n{text}");
        }
        for case in cases.iter().filter(|c| c.server == server) {
            let rule = &proposal.policy["tools"][&case.name];
            assert!(
                rule["reason"].is_string(),
                "{server}.{}: no reason",
                case.name
            );
            if case.label.needs_a_human() && classify(&case.tool).class == case.label {
                assert_eq!(
                    rule["action"], "require_approval",
                    "{server}.{} is {} but is not asked",
                    case.name, case.label
                );
            }
        }
    }
}
