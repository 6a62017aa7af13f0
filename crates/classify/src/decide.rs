//! The rules of the crate docs' table, applied to one tool, and how their evidence adds up.

use serde_json::Value;

use crate::tokens::{text_words, verb_forms, words};
use crate::words::{
    ASPECT_VERBS, CREDENTIAL_PAIRS, CREDENTIAL_WORDS, FIELDS, FILLER, HTTP_VERBS, JOINERS,
    NOUN_LIKE_VERBS, OBJECTS, PHRASES, READ_NOUNS, SECRET_STORES, VERBS,
};
use crate::{Class, Classification, Confidence, Evidence, Rule, Source};

/// Weight at which evidence for a risky class keeps a tool from being `read`.
const GUARD_WEIGHT: u8 = 2;

/// An object outweighs everything a plain write collects (name verb 3, description verb 2,
/// `readOnlyHint: false` 1), so `update_subscription` is financial, not a write.
const OBJECT_WEIGHT: u8 = 6;

/// Classifies one tool definition as listed in `tools/list`.
///
/// Missing or mistyped fields are treated as absent: a tool without a name or description is
/// classified from what it has, and one with nothing is [`Class::Unknown`].
pub fn classify(tool: &Value) -> Classification {
    let mut evidence = Vec::new();
    let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
    annotations(tool.get("annotations"), &mut evidence);
    let facts = name_rules(name, &mut evidence);
    if let Some(description) = tool.get("description").and_then(Value::as_str) {
        description_rules(description, &mut evidence);
    }
    schema_rules(tool.get("inputSchema"), &facts, &mut evidence);
    decide(evidence)
}

fn push(evidence: &mut Vec<Evidence>, rule: Rule, detail: String, class: Class, weight: u8) {
    evidence.push(Evidence {
        rule,
        detail,
        class: Some(class),
        weight,
        conflict: false,
    });
}

fn annotations(annotations: Option<&Value>, evidence: &mut Vec<Evidence>) {
    let Some(annotations) = annotations else {
        return;
    };
    let hint = |key: &str| annotations.get(key).and_then(Value::as_bool);
    let read_only = hint("readOnlyHint");
    match read_only {
        Some(true) => push(
            evidence,
            Rule::ReadOnlyHint,
            "readOnlyHint: true".into(),
            Class::Read,
            3,
        ),
        Some(false) => {
            push(
                evidence,
                Rule::NotReadOnlyHint,
                "readOnlyHint: false".into(),
                Class::Write,
                1,
            );
        }
        None => {}
    }
    // The spec gives destructiveHint meaning only when the tool is not read-only.
    if read_only != Some(true) && hint("destructiveHint") == Some(true) {
        push(
            evidence,
            Rule::DestructiveHint,
            "destructiveHint: true".into(),
            Class::Destructive,
            2,
        );
    }
    for key in ["idempotentHint", "openWorldHint"] {
        if let Some(value) = hint(key) {
            evidence.push(Evidence {
                rule: Rule::OtherHint,
                detail: format!("{key}: {value}"),
                class: None,
                weight: 0,
                conflict: false,
            });
        }
    }
}

/// The class of a verb word; `re` + a verb is that verb again (`rerun`, `resend`, `reinvite`)
/// unless the whole word is a verb of its own (`remove`, `reset`).
fn verb_class(word: &str) -> Option<Class> {
    let find = |w: &str| {
        VERBS
            .iter()
            .find(|(_, list)| list.contains(&w))
            .map(|(class, _)| *class)
    };
    find(word).or_else(|| {
        word.strip_prefix("re")
            .filter(|rest| rest.len() >= 3)
            .and_then(find)
    })
}

/// Weight of a word naming a secret: like an object (6) when the verb writes or sends, so
/// `create_secret` is about the secret; 3 otherwise (a read or a deletion of a secret ties with
/// its verb, and the tie goes to the riskier class).
fn secret_weight(verb: Option<Class>) -> u8 {
    match verb {
        Some(class) if class.risk() < Class::Destructive.risk() => OBJECT_WEIGHT,
        _ => 3,
    }
}

fn http_verb_class(word: &str) -> Option<Class> {
    HTTP_VERBS
        .iter()
        .find(|(_, verb)| *verb == word)
        .map(|(class, _)| *class)
}

/// The indices of the name's verbs, and the HTTP method standing for one.
///
/// The verb is the first verb word that is not noun-like; else an HTTP method (`API-patch-block`);
/// else the first noun-like verb word. `start_search` and `begin_import` take the verb after
/// `start`/`begin`. Verbs joined to it by `and`/`or`/`then` count too.
fn name_verbs(words: &[String]) -> (Vec<usize>, Option<usize>) {
    let verbs: Vec<usize> = (0..words.len())
        .filter(|&i| verb_class(&words[i]).is_some())
        .collect();
    let plain = verbs
        .iter()
        .copied()
        .find(|&i| !NOUN_LIKE_VERBS.contains(&words[i].as_str()));
    let http = (0..words.len()).find(|&i| http_verb_class(&words[i]).is_some());
    let primary = match (plain, http) {
        (Some(i), _) => i,
        (None, Some(h)) => return (Vec::new(), Some(h)),
        (None, None) => match verbs.first() {
            Some(&i) => i,
            None => return (Vec::new(), None),
        },
    };
    let primary = match words.get(primary + 1) {
        Some(next)
            if ASPECT_VERBS.contains(&words[primary].as_str()) && verb_class(next).is_some() =>
        {
            primary + 1
        }
        _ => primary,
    };
    let mut chosen = vec![primary];
    for &i in &verbs {
        if i != primary && i > 0 && JOINERS.contains(&words[i - 1].as_str()) {
            chosen.push(i);
        }
    }
    (chosen, None)
}

/// What the name says, and the class of its verbs (for the rules that depend on them).
struct NameFacts {
    /// The name has a verb, and every verb is a read.
    reads: bool,
}

fn name_rules(name: &str, evidence: &mut Vec<Evidence>) -> NameFacts {
    let words = words(name);
    let (verbs, http) = name_verbs(&words);
    let mut verb_classes = Vec::new();
    for &i in &verbs {
        if let Some(class) = verb_class(&words[i]) {
            verb_classes.push(class);
            push(
                evidence,
                Rule::NameVerb,
                format!("verb \"{}\"", words[i]),
                class,
                3,
            );
        }
    }
    if let Some(i) = http
        && let Some(class) = http_verb_class(&words[i])
    {
        verb_classes.push(class);
        push(
            evidence,
            Rule::NameHttpVerb,
            format!("HTTP verb \"{}\"", words[i]),
            class,
            2,
        );
    }
    // The riskiest state-changing verb; an object only refines a verb less risky than itself
    // (`create_refund` is financial, `kill_process` stays destructive).
    let changing = verb_classes
        .iter()
        .copied()
        .filter(|c| *c != Class::Read)
        .max_by_key(|c| c.risk());
    for (i, word) in words.iter().enumerate() {
        if verbs.contains(&i) || http == Some(i) {
            continue;
        }
        if CREDENTIAL_WORDS.contains(&word.as_str()) {
            push(
                evidence,
                Rule::NameSecret,
                format!("word \"{word}\""),
                Class::Credential,
                secret_weight(changing),
            );
        }
        if SECRET_STORES.contains(&word.as_str()) {
            push(
                evidence,
                Rule::NameSecret,
                format!("word \"{word}\""),
                Class::Credential,
                3,
            );
        }
        if let Some(next) = words.get(i + 1)
            && CREDENTIAL_PAIRS.contains(&(word.as_str(), next.as_str()))
        {
            push(
                evidence,
                Rule::NameSecret,
                format!("words \"{word} {next}\""),
                Class::Credential,
                secret_weight(changing),
            );
        }
        if let Some(verb) = changing {
            for (class, objects) in OBJECTS {
                if objects.contains(&word.as_str()) && class.risk() > verb.risk() {
                    push(
                        evidence,
                        Rule::NameObject,
                        format!("object \"{word}\""),
                        *class,
                        OBJECT_WEIGHT,
                    );
                }
            }
        }
        if READ_NOUNS.contains(&word.as_str()) {
            push(
                evidence,
                Rule::NameReadNoun,
                format!("noun \"{word}\""),
                Class::Read,
                2,
            );
        }
    }
    NameFacts {
        reads: !verb_classes.is_empty() && verb_classes.iter().all(|c| *c == Class::Read),
    }
}

/// The opening verbs of the first sentence, and phrases in the first two sentences (long
/// descriptions go on about other tools and other cases: "blocked shell commands" in a file
/// reader's manual says nothing about the reader).
fn description_rules(description: &str, evidence: &mut Vec<Evidence>) {
    let mut sentences = description.split_terminator(['.', '\n', ':', ';', '!', '?']);
    let first = sentences.next().unwrap_or_default();
    let mut lead = Vec::new();
    // "List, create, close, or select a browser tab": each comma-separated part that starts
    // with a verb adds that verb, as long as the parts before it were a verb alone.
    for (n, part) in first.split(',').enumerate() {
        let words = text_words(part);
        let mut words = words
            .iter()
            .skip_while(|w| FILLER.contains(&w.as_str()) || JOINERS.contains(&w.as_str()));
        // The first part may have one word before its verb ("Notion | Retrieve a block").
        let found = match (words.next(), n) {
            (Some(word), 0) => description_verb(word).map(|v| (v, 1)).or_else(|| {
                words
                    .next()
                    .and_then(|w| description_verb(w))
                    .map(|v| (v, 2))
            }),
            (Some(word), _) => description_verb(word).map(|v| (v, 1)),
            (None, _) => None,
        };
        let Some(((form, class), used)) = found else {
            break;
        };
        lead.push(class);
        push(
            evidence,
            Rule::DescriptionVerb,
            format!("verb \"{form}\""),
            class,
            2,
        );
        let alone = text_words(part)
            .iter()
            .filter(|w| !FILLER.contains(&w.as_str()) && !JOINERS.contains(&w.as_str()))
            .count()
            == used;
        if !alone {
            break;
        }
    }
    secrets_in(first, &lead, evidence);
    let head: Vec<String> = std::iter::once(first)
        .chain(sentences.next())
        .flat_map(text_words)
        .collect();
    let joined = format!(" {} ", head.join(" "));
    for (class, weight, phrase) in PHRASES {
        if joined.contains(&format!(" {phrase} ")) {
            push(
                evidence,
                Rule::DescriptionPhrase,
                format!("phrase \"{phrase}\""),
                *class,
                *weight,
            );
        }
    }
}

/// A secret named in the first sentence is what the tool acts on ("Generate a secure password",
/// "Get a secret", "List items from your vault"): weighed as in a name, once per kind.
fn secrets_in(first: &str, lead: &[Class], evidence: &mut Vec<Evidence>) {
    let words = text_words(first);
    let changing = lead
        .iter()
        .copied()
        .filter(|c| *c != Class::Read)
        .max_by_key(|c| c.risk());
    let secret = words.iter().enumerate().find_map(|(i, w)| {
        if CREDENTIAL_WORDS.contains(&w.as_str()) {
            return Some(w.clone());
        }
        let next = words.get(i + 1)?;
        CREDENTIAL_PAIRS
            .contains(&(w.as_str(), next.as_str()))
            .then(|| format!("{w} {next}"))
    });
    if let Some(secret) = secret {
        push(
            evidence,
            Rule::DescriptionObject,
            format!("secret \"{secret}\""),
            Class::Credential,
            secret_weight(changing),
        );
    }
    if let Some(store) = words.iter().find(|w| SECRET_STORES.contains(&w.as_str())) {
        push(
            evidence,
            Rule::DescriptionObject,
            format!("secret store \"{store}\""),
            Class::Credential,
            3,
        );
    }
}

fn description_verb(word: &str) -> Option<(String, Class)> {
    verb_forms(word)
        .into_iter()
        .find_map(|form| verb_class(&form).map(|class| (form, class)))
}

/// Top-level input fields. Money fields count only when the name does not read: on a read they
/// are filters (`list_charges(amount: …)`), where a `command` field on a read still runs it.
fn schema_rules(schema: Option<&Value>, facts: &NameFacts, evidence: &mut Vec<Evidence>) {
    let Some(properties) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for field in properties.keys() {
        let lower = field.to_lowercase();
        for (class, weight, fields) in FIELDS {
            if fields.contains(&lower.as_str()) && !(facts.reads && *class == Class::Financial) {
                push(
                    evidence,
                    Rule::SchemaField,
                    format!("field \"{field}\""),
                    *class,
                    *weight,
                );
            }
        }
    }
}

/// Adds the evidence up: the best total wins, ties to the riskier class; `read` yields to any
/// risky class with evidence of weight [`GUARD_WEIGHT`] or more.
fn decide(mut evidence: Vec<Evidence>) -> Classification {
    let mut totals: Vec<(Class, u32)> = Vec::new();
    for item in &evidence {
        let Some(class) = item.class else { continue };
        match totals.iter_mut().find(|(c, _)| *c == class) {
            Some((_, total)) => *total += u32::from(item.weight),
            None => totals.push((class, u32::from(item.weight))),
        }
    }
    let best = totals
        .iter()
        .copied()
        .max_by_key(|&(class, total)| (total, class.risk()));
    let Some((mut class, mut total)) = best else {
        return Classification {
            class: Class::Unknown,
            confidence: Confidence::Low,
            evidence,
        };
    };
    if class == Class::Read {
        let risky = evidence
            .iter()
            .filter(|e| e.weight >= GUARD_WEIGHT && e.rule.guards_reads())
            .filter_map(|e| e.class)
            .filter(|c| {
                matches!(
                    c,
                    Class::Destructive | Class::Financial | Class::Execute | Class::Credential
                )
            })
            .max_by_key(|c| c.risk());
        if let Some(risky) = risky {
            class = risky;
            total = totals
                .iter()
                .find(|(c, _)| *c == risky)
                .map_or(0, |(_, t)| *t);
        }
    }
    for item in &mut evidence {
        item.conflict = item.rule.source() == Source::Annotation
            && item.class.is_some_and(|c| c != class && item.weight >= 2);
    }
    let against = evidence
        .iter()
        .any(|e| e.class.is_some_and(|c| c != class) && e.weight >= 2);
    let confidence = if total < 3 {
        Confidence::Low
    } else if against || total < 4 {
        Confidence::Medium
    } else {
        Confidence::High
    };
    // The evidence for the result first, strongest first; then the rest (conflicts included).
    evidence.sort_by_key(|e| (e.class != Some(class), std::cmp::Reverse(e.weight)));
    Classification {
        class,
        confidence,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn class_of(tool: Value) -> Class {
        classify(&tool).class
    }

    #[test]
    fn the_name_verb_decides_in_every_naming_style() {
        for name in [
            "delete_user",
            "deleteUser",
            "delete-user",
            "users.delete",
            "user_delete",
        ] {
            assert_eq!(
                class_of(json!({"name": name})),
                Class::Destructive,
                "{name}"
            );
        }
        assert_eq!(class_of(json!({"name": "listChannels"})), Class::Read);
        assert_eq!(class_of(json!({"name": "run_command"})), Class::Execute);
        assert_eq!(
            class_of(json!({"name": "send_email"})),
            Class::Communication
        );
        assert_eq!(class_of(json!({"name": "create_refund"})), Class::Financial);
        assert_eq!(
            class_of(json!({"name": "rotate_api_key"})),
            Class::Credential
        );
    }

    #[test]
    fn a_read_only_annotation_does_not_hide_a_deleting_name() {
        let c = classify(&json!({
            "name": "delete_all_records",
            "annotations": {"readOnlyHint": true}
        }));
        assert_eq!(c.class, Class::Destructive);
        assert!(c.has_conflict());
        assert!(c.confidence < Confidence::High);
        assert_eq!(c.confidence, Confidence::Medium);
        assert_eq!(
            c.summary(),
            "name verb \"delete\" → destructive; \
             annotation readOnlyHint: true → read (conflict: not trusted)"
        );
    }

    #[test]
    fn annotations_decide_when_the_name_says_nothing() {
        let c = classify(&json!({"name": "open_nodes", "annotations": {"readOnlyHint": true}}));
        assert_eq!(c.class, Class::Read);
        assert!(!c.has_conflict());
        let c = classify(&json!({"name": "graph", "annotations": {"destructiveHint": true}}));
        assert_eq!(c.class, Class::Destructive);
    }

    #[test]
    fn a_read_verb_on_money_stays_a_read_but_changing_it_does_not() {
        assert_eq!(class_of(json!({"name": "list_payments"})), Class::Read);
        assert_eq!(class_of(json!({"name": "get_order"})), Class::Read);
        assert_eq!(class_of(json!({"name": "order_get"})), Class::Read);
        assert_eq!(
            class_of(json!({"name": "create_payment"})),
            Class::Financial
        );
    }

    #[test]
    fn reading_a_secret_is_never_a_plain_read() {
        assert_eq!(class_of(json!({"name": "get-env"})), Class::Credential);
        assert_eq!(
            class_of(json!({"name": "get_secret_value"})),
            Class::Credential
        );
        // `key` alone is a record's key, not a secret.
        assert_eq!(class_of(json!({"name": "get_key"})), Class::Read);
    }

    #[test]
    fn schema_fields_count_and_guard_reads() {
        let c = classify(&json!({
            "name": "browser_evaluate",
            "inputSchema": {"type": "object", "properties": {"function": {}}}
        }));
        assert_eq!(c.class, Class::Execute);
        // A tool whose name reads but which takes a shell command is not a read.
        let c = classify(&json!({
            "name": "get_output",
            "inputSchema": {"type": "object", "properties": {"command": {"type": "string"}}}
        }));
        assert_eq!(c.class, Class::Execute);
    }

    #[test]
    fn the_description_fills_in_for_a_name_without_a_verb() {
        let c = classify(&json!({
            "name": "maps_directions",
            "description": "Get directions between two points"
        }));
        assert_eq!(c.class, Class::Read);
        let c = classify(&json!({
            "name": "sql",
            "description": "Use this tool to permanently drop a table"
        }));
        assert_eq!(c.class, Class::Destructive);
    }

    #[test]
    fn joined_verbs_all_count_and_the_riskier_wins_a_tie() {
        assert_eq!(
            class_of(json!({"name": "create_or_update_file"})),
            Class::Write
        );
        assert_eq!(
            class_of(json!({"name": "search_and_replace"})),
            Class::Write
        );
        assert_eq!(class_of(json!({"name": "API-post-search"})), Class::Read);
        assert_eq!(class_of(json!({"name": "API-patch-page"})), Class::Write);
    }

    #[test]
    fn secrets_weigh_like_objects_when_written_and_keep_lookups_from_being_reads() {
        assert_eq!(
            class_of(json!({"name": "create-secret"})),
            Class::Credential
        );
        assert_eq!(class_of(json!({"name": "get-secret"})), Class::Credential);
        // Deleting one ties destructive and credential; the riskier class takes it.
        assert_eq!(class_of(json!({"name": "delete_token"})), Class::Credential);
        let c = classify(&json!({"name": "generate", "description": "Generate a secure password"}));
        assert_eq!(c.class, Class::Credential);
        let c = classify(&json!({"name": "get", "description": "Get an item from your vault"}));
        assert_eq!(c.class, Class::Credential);
        // A store alone does not outweigh a write.
        let c = classify(
            &json!({"name": "create_folder", "description": "Create a folder in your vault"}),
        );
        assert_eq!(c.class, Class::Write);
        // `re` + a verb is the verb; a verb of its own stays itself.
        assert_eq!(class_of(json!({"name": "rerun_job"})), Class::Execute);
        assert_eq!(class_of(json!({"name": "remove_user"})), Class::Destructive);
    }

    #[test]
    fn nothing_known_is_unknown_with_low_confidence() {
        let c = classify(&json!({"name": "sequentialthinking"}));
        assert_eq!(c.class, Class::Unknown);
        assert_eq!(c.confidence, Confidence::Low);
        assert_eq!(classify(&json!(42)).class, Class::Unknown);
        assert_eq!(c.summary(), "no rule matched");
    }
}
