//! Splitting tool names into lowercase words.
//!
//! Servers name tools in every style: `delete_entities` (snake_case), `getUserProfile`
//! (camelCase), `get-tiny-image` (kebab-case), `files.read` (dotted), `API-post-search` (mixed),
//! `HTTPRequest` (an acronym before a word). All of them become the same list of words, so the
//! rules match words, never substrings (`undelete` is not `delete`, `listen` is not `list`).

/// The words of a tool name, lowercase, in order.
///
/// Separators are anything that is not a letter or a digit; a new word also starts where a
/// lowercase letter or digit is followed by an uppercase one (`getUser`), and where an acronym
/// ends before a capitalised word (`HTTPRequest` → `http`, `request`).
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            flush(&mut current, &mut words);
            continue;
        }
        if c.is_uppercase() && !current.is_empty() {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lower)
            {
                flush(&mut current, &mut words);
            }
        }
        current.extend(c.to_lowercase());
    }
    flush(&mut current, &mut words);
    words
}

fn flush(current: &mut String, words: &mut Vec<String>) {
    if !current.is_empty() {
        words.push(std::mem::take(current));
    }
}

/// The words of free text (a description), lowercase; hyphenated words stay whole
/// (`read-only`) so phrases can name them.
pub fn text_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.trim_matches(|c| c == '-' || c == '\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Candidate base forms of an English verb as it appears in a description (`Deletes` →
/// `delete`, `Searches` → `search`, `Applies` → `apply`); the word itself first.
pub fn verb_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_string()];
    if let Some(stem) = word.strip_suffix("ies") {
        forms.push(format!("{stem}y"));
    }
    if let Some(stem) = word.strip_suffix("es") {
        forms.push(stem.to_string());
    }
    if let Some(stem) = word.strip_suffix('s') {
        forms.push(stem.to_string());
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_naming_style_gives_the_same_words() {
        for name in [
            "delete_user_data",
            "deleteUserData",
            "DeleteUserData",
            "delete-user-data",
            "delete.user.data",
            "delete user/data",
        ] {
            assert_eq!(words(name), ["delete", "user", "data"], "{name}");
        }
    }

    #[test]
    fn acronyms_and_digits_split_where_a_person_would() {
        assert_eq!(words("HTTPRequest"), ["http", "request"]);
        assert_eq!(words("getHTTPStatus"), ["get", "http", "status"]);
        assert_eq!(words("API-post-search"), ["api", "post", "search"]);
        assert_eq!(words("s3_list_buckets"), ["s3", "list", "buckets"]);
        assert_eq!(words("list2Items"), ["list2", "items"]);
        assert_eq!(words("__x__"), ["x"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn description_words_keep_hyphenated_words() {
        assert_eq!(
            text_words("Run a read-only SQL query."),
            ["run", "a", "read-only", "sql", "query"]
        );
    }

    #[test]
    fn verb_forms_undo_the_third_person() {
        assert!(verb_forms("deletes").contains(&"delete".to_string()));
        assert!(verb_forms("searches").contains(&"search".to_string()));
        assert!(verb_forms("applies").contains(&"apply".to_string()));
        assert_eq!(verb_forms("list")[0], "list");
    }
}
