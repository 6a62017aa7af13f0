//! airlock-classify: a deterministic risk class for every MCP tool, and the starter policy made
//! from the classes.
//!
//! [`classify`] reads one tool definition as a server lists it in `tools/list` (`name`,
//! `description`, `inputSchema`, `annotations`) and returns a [`Classification`]: a [`Class`]
//! (`read`, `write`, `communication`, `execute`, `destructive`, `financial`, `credential`, or
//! `unknown` when nothing is known), a [`Confidence`], and the [`Evidence`]: every rule that fired,
//! with its weight. No model, no network, no clock: the same definition always gets the same
//! answer, and the answer says why.
//!
//! # Rules
//!
//! Each rule adds its weight to one class (the tables are in `words.rs`; `docs/classify.md`
//! lists every word):
//!
//! | source | rule | weight |
//! |---|---|---|
//! | annotation | `readOnlyHint: true` → read | 3 |
//! | annotation | `destructiveHint: true` (and not read-only) → destructive | 2 |
//! | annotation | `readOnlyHint: false` → write | 1 |
//! | name | the name's verb (`delete_file` → destructive); verbs joined by `and`/`or` each count | 3 |
//! | name | an HTTP method as the verb (`API-patch-page` → write), when the name has no other verb that is not noun-like | 2 |
//! | name | a word naming a secret (`token`, `api_key`, `env`) → credential: with a verb that writes or sends (`create_secret`) | 6 |
//! | name | … with any other verb (`get_secret`, `delete_token`) | 3 |
//! | name | a store of secrets (`vault`, `keychain`) → credential | 3 |
//! | name | an object that makes a state-changing verb riskier (`create_refund` → financial, `add_comment` → communication, `start_process` → execute) | 6 |
//! | name | a noun that only reports (`git_status`, `place_details`) → read | 2 |
//! | description | its opening verb, after filler words ("Use this tool to delete …"), and each verb of a list that follows ("List, create or close tabs") | 2 each |
//! | description | a secret or a store of secrets in its first sentence ("Generate a secure password", "List items from your vault"), weighed as in a name | 6 or 3 |
//! | description | a phrase in its first two sentences: "read-only" → read, "permanently" → destructive, "shell command" → execute | 2 |
//! | description | a mention: "api key" → credential, "payment" → financial, "send a message" → communication | 1 |
//! | schema | a top-level field: `command`/`script`/`code` → execute, `amount`/`currency` → financial (unless the name's verb reads) | 2 |
//! | schema | a field: `password`/`secret` → credential, `recipients`/`cc` → communication | 1 |
//!
//! The class with the highest total wins; a tie goes to the riskier class (financial >
//! credential > destructive > execute > communication > write > read). Then, because `read` is
//! the one class a starter policy allows freely, **`read` never wins against the tool's own words
//! (name, schema, a description phrase) of weight 2 or more for `destructive`, `financial`,
//! `execute` or `credential`**: the riskiest such class wins instead. The server's annotations and
//! the description's opening verb only add to the totals: servers that mark every non-read tool
//! destructive (including a search sent as POST) would otherwise turn searches into deletions.
//! `idempotentHint` and `openWorldHint` decide nothing (deleting is idempotent; open world says
//! where effects land, not whether there are any); they are kept as evidence.
//!
//! # Annotations are hints
//!
//! MCP annotations come from the server, which may be wrong or lying: they weigh no more than
//! the name. When the result disagrees with an annotation (`readOnlyHint: true` on a tool named
//! `delete_all`), that annotation's evidence is marked [`Evidence::conflict`] and the confidence
//! drops; the annotation is never trusted over the name.

mod decide;
pub mod starter;
mod tokens;
mod words;

pub use decide::classify;
pub use tokens::words as name_words;

use serde::Serialize;

/// What a tool can do, from least to most consequential for the person behind the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Nothing classified it: treated as risky (a starter policy asks a human).
    Unknown,
    /// Looks something up, changes nothing.
    Read,
    /// Creates or changes data that can be changed back.
    Write,
    /// Sends something to people (a message, an email, a comment, an event to subscribers).
    Communication,
    /// Runs a program, a command or code.
    Execute,
    /// Deletes, overwrites for good, kills or revokes.
    Destructive,
    /// Reads, creates or changes secrets (tokens, keys, passwords, environment variables).
    Credential,
    /// Moves or commits money (payments, refunds, invoices, orders).
    Financial,
}

impl Class {
    /// Every class, in the order of the confusion matrix.
    pub const ALL: [Class; 8] = [
        Class::Read,
        Class::Write,
        Class::Communication,
        Class::Execute,
        Class::Destructive,
        Class::Financial,
        Class::Credential,
        Class::Unknown,
    ];

    /// The class's name as written in labels, policies and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Unknown => "unknown",
            Class::Read => "read",
            Class::Write => "write",
            Class::Communication => "communication",
            Class::Execute => "execute",
            Class::Destructive => "destructive",
            Class::Credential => "credential",
            Class::Financial => "financial",
        }
    }

    /// The class named `name`, as [`Class::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Classes a starter policy never allows without a human.
    pub fn needs_a_human(self) -> bool {
        matches!(
            self,
            Class::Unknown
                | Class::Execute
                | Class::Destructive
                | Class::Financial
                | Class::Credential
        )
    }

    /// Rank for ties and for the read guard: higher is riskier.
    pub(crate) fn risk(self) -> u8 {
        match self {
            Class::Read => 0,
            Class::Write => 1,
            Class::Communication => 2,
            Class::Execute => 3,
            Class::Destructive => 4,
            Class::Credential => 5,
            Class::Financial => 6,
            Class::Unknown => 7,
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the classifier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Little evidence (a total under 3), or none.
    Low,
    /// Enough evidence, but some of it points elsewhere or an annotation disagrees.
    Medium,
    /// Evidence of weight 4 or more, and nothing of weight 2 or more against it.
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Where a piece of evidence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The tool's MCP `annotations` (hints from the server).
    Annotation,
    /// The tool's name, split into words.
    Name,
    /// The tool's description.
    Description,
    /// The top-level fields of its `inputSchema`.
    Schema,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Annotation => "annotation",
            Source::Name => "name",
            Source::Description => "description",
            Source::Schema => "schema",
        }
    }
}

/// The rules of the table in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `readOnlyHint: true`.
    ReadOnlyHint,
    /// `readOnlyHint: false`.
    NotReadOnlyHint,
    /// `destructiveHint: true` on a tool that is not read-only.
    DestructiveHint,
    /// `idempotentHint` or `openWorldHint`: kept, decides nothing.
    OtherHint,
    /// The name's verb.
    NameVerb,
    /// An HTTP method standing for the name's verb.
    NameHttpVerb,
    /// A word of the name that names a secret.
    NameSecret,
    /// An object of the name that changes a state-changing verb.
    NameObject,
    /// A noun of the name that only reports.
    NameReadNoun,
    /// The description's first verb.
    DescriptionVerb,
    /// A secret, or a store of secrets, named in the description's first sentence.
    DescriptionObject,
    /// A phrase or mention in the description.
    DescriptionPhrase,
    /// A top-level field of the input schema.
    SchemaField,
}

impl Rule {
    pub fn source(self) -> Source {
        match self {
            Rule::ReadOnlyHint
            | Rule::NotReadOnlyHint
            | Rule::DestructiveHint
            | Rule::OtherHint => Source::Annotation,
            Rule::NameVerb
            | Rule::NameHttpVerb
            | Rule::NameSecret
            | Rule::NameObject
            | Rule::NameReadNoun => Source::Name,
            Rule::DescriptionVerb | Rule::DescriptionObject | Rule::DescriptionPhrase => {
                Source::Description
            }
            Rule::SchemaField => Source::Schema,
        }
    }

    /// Whether this rule's evidence can keep a tool from being `read`: the tool's own words
    /// (name, schema, description phrases) can; the server's annotations and the description's
    /// opening verb ("Run a read-only query") only add to the totals.
    pub fn guards_reads(self) -> bool {
        !matches!(self.source(), Source::Annotation) && self != Rule::DescriptionVerb
    }
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub rule: Rule,
    /// What matched, for people: `verb "delete"`, `readOnlyHint: true`, `field "amount"`.
    pub detail: String,
    /// The class it points at; `None` for evidence that is kept but decides nothing
    /// (`idempotentHint`, `openWorldHint`).
    pub class: Option<Class>,
    pub weight: u8,
    /// True when this is an annotation the result contradicts (a tool that says it is read-only
    /// but whose name deletes): the server's hint was not trusted.
    pub conflict: bool,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.rule.source().as_str(), self.detail)?;
        if let Some(class) = self.class {
            write!(f, " → {class}")?;
        }
        if self.conflict {
            f.write_str(" (conflict: not trusted)")?;
        }
        Ok(())
    }
}

/// The class of one tool, how sure, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub class: Class,
    pub confidence: Confidence,
    /// Every rule that fired: those for the class first, strongest first; then the rest.
    pub evidence: Vec<Evidence>,
}

impl Classification {
    /// True when an annotation disagrees with the result.
    pub fn has_conflict(&self) -> bool {
        self.evidence.iter().any(|e| e.conflict)
    }

    /// One line for people: the evidence for the winning class, strongest first, and any
    /// conflict (`name verb "delete" → destructive; annotation readOnlyHint: true → read
    /// (conflict: not trusted)`).
    pub fn summary(&self) -> String {
        let shown: Vec<String> = self
            .evidence
            .iter()
            .filter(|e| e.class == Some(self.class) || e.conflict)
            .map(ToString::to_string)
            .collect();
        if shown.is_empty() {
            "no rule matched".to_string()
        } else {
            shown.join("; ")
        }
    }
}
