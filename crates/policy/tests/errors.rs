//! The rendered error text of bad policies, with line and column (golden strings).
#![expect(clippy::panic, reason = "test helpers fail the test by panicking")]

use airlock_policy::Policy;

fn errors(src: &str) -> String {
    match Policy::parse(src, "policies/broken.json") {
        Ok(_) => panic!("policy unexpectedly valid"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn every_error_in_a_broken_policy_is_reported_with_its_position_and_hint() {
    let expected = r#"policies/broken.json:2:14: /version: expected a string, found a number
  = help: write the version as a string: `"version": "1"`
policies/broken.json:4:12: /hide/0: empty tool name
policies/broken.json:7:7: /tools/trigger_event/deny-if: unknown field `deny-if`
  = help: did you mean `deny_if`?
policies/broken.json:9:41: /tools/trigger_event/deny_if/0/op: unknown operator `regx`, expected one of `eq`, `neq`, `in`, `not_in`, `lt`, `lte`, `gt`, `gte`, `regex`, `contains`, `exists`, `under`, `glob`
  = help: did you mean `regex`?
policies/broken.json:10:19: /tools/trigger_event/deny_if/1/path: invalid path `channel`
  = help: a path is `args.` then keys, array indices or `*` (every element) separated by dots, e.g. `args.channel`, `args.events.0.channel` or `args.events.*.channel`
policies/broken.json:10:54: /tools/trigger_event/deny_if/1/value: invalid regular expression `(`: unclosed group
policies/broken.json:11:50: /tools/trigger_event/deny_if/2/value: expected a number for `gt`, found a string
policies/broken.json:12:50: /tools/trigger_event/deny_if/3/value: expected an array for `in`, found a string
  = help: write the candidates as a list, e.g. `["a", "b"]`
policies/broken.json:13:9: /tools/trigger_event/deny_if/4: missing field `value`
policies/broken.json:15:17: /tools/trigger_event/action: unknown action `block`, expected one of `allow`, `deny`, `require_approval`
policies/broken.json:16:27: /tools/trigger_event/approval_timeout: invalid duration `10 minutes`
  = help: write a positive whole number and a unit: `30s`, `10m`, `1h` or `1d`
policies/broken.json:18:40: /tools/trigger_event/limits/0/window: unknown window `fortnight`, expected one of `second`, `minute`, `hour`, `day` or a number of seconds
policies/broken.json:18:60: /tools/trigger_event/limits/0/max: `max` must be greater than 0, found `0`
policies/broken.json:18:72: /tools/trigger_event/limits/0/scope: unknown scope `grnat`, expected one of `grant`, `session`, `server`, `global`, `team`
  = help: did you mean `grant`?
policies/broken.json:19:22: /tools/trigger_event/limits/1/counter: empty counter name
policies/broken.json:19:36: /tools/trigger_event/limits/1/window: window `0` must be a whole number of seconds from 1 to 31622400
policies/broken.json:19:46: /tools/trigger_event/limits/1/max: `max` of a call-count limit must be a whole number, found `1.5`
  = help: fractions are for spend limits with `increment_from`
policies/broken.json:22:5: /tools/: empty tool name
policies/broken.json:26:22: /tools/other/limits/1/counter: counter `shared` is declared again with different settings
  = help: first declared at /tools/other/limits/0 (line 25); give this limit its own counter name or the same settings"#;
    assert_eq!(errors(include_str!("data/broken.json")), expected);
}

#[test]
fn each_error_carries_file_position_pointer_and_hint_as_data() {
    let Err(d) = Policy::parse(
        "{\"version\":\"1\",\"default\":\"deny\",\"tols\":{}}",
        "p.json",
    ) else {
        panic!("valid");
    };
    let d = &d.0[0];
    assert_eq!((d.file.as_str(), d.line, d.column), ("p.json", 1, 33));
    assert_eq!(d.pointer, "/tols");
    assert_eq!(d.message, "unknown field `tols`");
    assert_eq!(d.help.as_deref(), Some("did you mean `tools`?"));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let src = "{\n  \"version\": \"1\",\n  \"default\": \"deny\",\n}\n";
    assert_eq!(
        errors(src),
        "policies/broken.json:4:1: trailing comma before `}`"
    );
    assert_eq!(
        errors("{\"version\": \"1\" \"default\": \"deny\"}"),
        "policies/broken.json:1:17: expected `,` or `}` after an object member, found `\"`"
    );
    assert_eq!(
        errors(""),
        "policies/broken.json:1:1: expected a JSON value, found end of file"
    );
}

#[test]
fn missing_required_fields_point_at_the_object() {
    assert_eq!(
        errors("{\"tools\": {}}"),
        "policies/broken.json:1:1: missing field `version`\npolicies/broken.json:1:1: missing field `default`"
    );
    assert_eq!(
        errors("[]"),
        "policies/broken.json:1:1: expected an object, found an array"
    );
}

#[test]
fn wrong_types_unknown_words_and_duplicates_are_errors() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"version":"2","default":"deny"}"#,
            "1:12: /version: unsupported version `2`, expected `\"1\"`",
        ),
        (
            r#"{"version":"1","default":"maybe"}"#,
            "1:26: /default: unknown default action `maybe`, expected one of `allow`, `deny`, `require_approval`",
        ),
        (
            r#"{"version":"1","default":"deny","default":"allow"}"#,
            "1:33: /default: duplicate field `default`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{},"a":{}}}"#,
            "1:49: /tools/a: duplicate tool `a`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":[]}}"#,
            "1:46: /tools/a: expected an object, found an array",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"reason":5}}}"#,
            "1:56: /tools/a/reason: expected a string, found a number",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"require":[{"path":"args.x","op":"exists","value":"yes"}]}}}"#,
            "1:97: /tools/a/require/0/value: expected a boolean for `exists`, found a string",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"require":[{"path":"args..x","op":"exists"}]}}}"#,
            "1:66: /tools/a/require/0/path: invalid path `args..x`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"limits":[{"counter":"c","window":"minute","max":-1,"scope":"grant"}]}}}"#,
            "1:96: /tools/a/limits/0/max: `max` must be greater than 0, found `-1`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a/b":{"deny":true}}}"#,
            "1:49: /tools/a~1b/deny: unknown field `deny`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"limits":[{"counter":"c","window":"minute","max":1,"scope":"grant","increment_from":"amount"}]}}}"#,
            "1:131: /tools/a/limits/0/increment_from: invalid path `amount`",
        ),
        (
            r#"{"version":"1","default":"deny","tools":{"a":{"require":[{"path":"args.x","op":"contains","value":[1]}]}}}"#,
            "1:99: /tools/a/require/0/value: expected a string, number, boolean or null for `contains`, found an array",
        ),
    ];
    for (src, want) in cases {
        let got = errors(src);
        let first = got.lines().next().unwrap_or_default();
        assert_eq!(first, format!("policies/broken.json:{want}"), "for {src}");
    }
}

#[test]
fn bad_path_operands_are_errors_with_position_and_pointer() {
    let src = r#"{
  "version": "1",
  "default": "deny",
  "tools": {
    "read_text_file": {
      "deny_if": [
        { "path": "args.path", "op": "glob", "value": ["**/.env", "secret/[a", "!*.pem"] },
        { "path": "args.path", "op": "glob", "value": "a/../b" },
        { "path": "args.path", "op": "under", "value": 42 },
        { "path": "args.path", "op": "under", "value": ["/ok", 7, "/a/../.."] },
        { "path": "args.path", "op": "under", "value": [] },
        { "path": "args.path", "op": "glob", "value": "~x/**" },
        { "path": "args.path", "op": "under", "value": "file://host/x" },
        { "path": "args.path", "op": "glob", "value": "" }
      ]
    }
  }
}"#;
    let expected = r#"policies/broken.json:7:67: /tools/read_text_file/deny_if/0/value/1: invalid glob pattern `secret/[a`: unclosed character class; missing ']'
policies/broken.json:7:80: /tools/read_text_file/deny_if/0/value/2: negated glob pattern `!*.pem` is not supported
  = help: list what should match; to exempt paths, add a condition to `require` instead
policies/broken.json:8:55: /tools/read_text_file/deny_if/1/value: glob pattern `a/../b` contains `.` or `..`
  = help: paths are normalized before matching; write the pattern without `.` and `..`
policies/broken.json:9:56: /tools/read_text_file/deny_if/2/value: expected a path or a list of paths for `under`, found a number
policies/broken.json:10:64: /tools/read_text_file/deny_if/3/value/1: expected a path (a string), found a number
policies/broken.json:10:67: /tools/read_text_file/deny_if/3/value/2: path `/a/../..` cannot be normalized: `..` climbs above the root
policies/broken.json:11:56: /tools/read_text_file/deny_if/4/value: `under` needs at least one of its paths
policies/broken.json:12:55: /tools/read_text_file/deny_if/5/value: glob pattern `~x/**` must start with `~/` to mean the home directory
  = help: for the home directory itself and everything in it, use `under` with `~`
policies/broken.json:13:56: /tools/read_text_file/deny_if/6/value: path `file://host/x` cannot be normalized: a `file:` URI naming host `host` is not a local path
policies/broken.json:14:55: /tools/read_text_file/deny_if/7/value: empty glob pattern"#;
    assert_eq!(errors(src), expected);
}

#[test]
fn regex_on_a_path_argument_loads_with_a_warning() {
    let src = r#"{
  "version": "1",
  "default": "deny",
  "tools": {
    "read_text_file": {
      "deny_if": [ { "path": "args.path", "op": "regex", "value": "/secret(/|$)" } ]
    },
    "read_multiple_files": {
      "deny_if": [ { "path": "args.paths.*", "op": "regex", "value": "\\.env$" } ]
    },
    "trigger_event": {
      "deny_if": [ { "path": "args.channel", "op": "regex", "value": "^private-" } ]
    }
  }
}"#;
    let p = Policy::parse(src, "policies/fs.json").unwrap_or_else(|e| panic!("{e}"));
    let rendered: Vec<String> = p.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "policies/fs.json:6:49: warning: /tools/read_text_file/deny_if/0/op: `regex` on `args.path` matches the text of a path, not the path: values like `a/../secret/x` or a relative `secret/x` can slip past it
  = help: use `under` (a directory and everything in it) or `glob` (e.g. `**/secret/**`), which match the normalized path",
            "policies/fs.json:9:52: warning: /tools/read_multiple_files/deny_if/0/op: `regex` on `args.paths.*` matches the text of a path, not the path: values like `a/../secret/x` or a relative `secret/x` can slip past it
  = help: use `under` (a directory and everything in it) or `glob` (e.g. `**/secret/**`), which match the normalized path",
        ]
    );
    let w = &p.warnings()[0];
    assert_eq!(w.severity, airlock_policy::Severity::Warning);
    assert_eq!((w.line, w.column), (6, 49));
    assert_eq!(w.pointer, "/tools/read_text_file/deny_if/0/op");
}

#[test]
fn a_fuzzer_found_float_loads_without_trouble() {
    // 1e105 spelled with 105 digits: serde_json and Rust round it differently.
    let n = include_str!("regressions/fuzz-float-1e105.json").trim();
    let src = format!(
        r#"{{"version":"1","default":"deny","tools":{{"a":{{"deny_if":[{{"path":"args.x","op":"gt","value":{n}}}]}}}}}}"#
    );
    assert!(Policy::parse(&src, "f.json").is_ok());
}
