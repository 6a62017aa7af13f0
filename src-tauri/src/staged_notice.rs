//! The native notification for a staged policy change: a policy file changed on disk in a way
//! that loosens what agents may do, and the previous version stays in force until the person
//! applies or discards it in the window (`airlock_gate::policies`, `staged.rs`). It offers no
//! Apply button: the person should read the whole difference in the window first.

use airlock_gate::StagedPolicy;

/// Most differences listed in the body.
const MAX_LISTED: usize = 3;

/// Summary and body of the notification for `staged`.
pub fn staged_text(staged: &StagedPolicy) -> (String, String) {
    let looser: Vec<&str> = staged.diff.looser().map(|c| c.text.as_str()).collect();
    let summary = "A policy change waits for you".to_owned();
    let mut body = format!(
        "{} changed on disk and would loosen what agents may do; the previous version stays in force until you apply it in Airlock.",
        staged.source.label()
    );
    for text in looser.iter().take(MAX_LISTED) {
        body.push_str("\n• ");
        body.push_str(text);
    }
    if looser.len() > MAX_LISTED {
        body.push_str(&format!("\n… and {} more", looser.len() - MAX_LISTED));
    }
    (summary, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_body_names_the_file_and_the_looser_differences() {
        let old =
            airlock_policy::Policy::parse(r#"{"version": "1", "default": "deny"}"#, "p").unwrap();
        let new = airlock_policy::Policy::parse(
            r#"{"version": "1", "default": "deny", "tools": {"a": {}, "b": {}, "c": {}, "d": {}}}"#,
            "p",
        )
        .unwrap();
        let staged = StagedPolicy {
            source: airlock_gate::config::PolicySource::File("/home/me/p.json".into()),
            text: String::new(),
            diff: airlock_policy::diff(&old, &new),
            policy: Arc::new(new),
        };
        let (summary, body) = staged_text(&staged);
        assert_eq!(summary, "A policy change waits for you");
        assert!(
            body.starts_with("/home/me/p.json changed on disk"),
            "{body}"
        );
        assert!(
            body.contains("\n• `a` would be allowed without asking"),
            "{body}"
        );
        assert!(body.ends_with("… and 1 more"), "{body}");
    }
}
