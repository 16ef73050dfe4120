//! Reading YAML configuration files (`yaml-rust2`) into the exporter's own structs, strictly: an
//! unknown key, a wrong type or a second document is an error whose message names the key by
//! its dotted path (`tls_server_config.client_auth_type: ...`), so a typo never passes silently.
//!
//! Every config file the exporter reads goes through here: walk the document with [`Node`],
//! check a mapping's keys with [`Node::map`], read scalars with [`Map::str`] and friends.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::{ScanError, Yaml, YamlLoader};

/// Most values a document may hold, counting each alias as the values it repeats: aliases
/// could otherwise expand a small file into a huge document ("billion laughs").
pub const MAX_VALUES: usize = 100_000;
/// Most text bytes a document may hold, aliases expanded (twice the largest config file).
pub const MAX_TEXT: usize = 2 << 20;
/// Deepest nesting of lists and mappings (dropping a document recurses once per level).
pub const MAX_DEPTH: usize = 64;

/// A configuration file that could not be read: where in the document, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Dotted path of the key (`basic_auth_users.alice`), or `line N column M` for syntax.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for YamlError {}

/// Parses `text` as one YAML document (an empty file is `Null`), of at most [`MAX_VALUES`]
/// values (aliases expanded) nested at most [`MAX_DEPTH`] deep.
pub fn parse(text: &str) -> Result<Yaml, YamlError> {
    check_size(text)?;
    let mut docs = YamlLoader::load_from_str(text).map_err(|e| syntax_error(&e))?;
    match docs.len() {
        0 => Ok(Yaml::Null),
        1 => Ok(docs.remove(0)),
        n => Err(YamlError {
            path: String::new(),
            message: format!("expected one YAML document, found {n}"),
        }),
    }
}

fn syntax_error(e: &ScanError) -> YamlError {
    YamlError {
        path: format!("line {} column {}", e.marker().line(), e.marker().col() + 1),
        message: format!("invalid YAML: {}", one_line(e.info(), 200)),
    }
}

/// Reads the events of `text` without building anything: the number of values and of text
/// bytes the document expands to (each alias counting those of its anchor) and its depth must
/// stay within bounds, before the loader copies an anchor for every alias.
fn check_size(text: &str) -> Result<(), YamlError> {
    let too_big = |at: yaml_rust2::scanner::Marker, what: String| YamlError {
        path: format!("line {} column {}", at.line(), at.col() + 1),
        message: what,
    };
    let mut parser = Parser::new_from_str(text);
    // (values, text bytes) so far.
    let mut size = (0usize, 0usize);
    // Open containers: their anchor id and `size` when they started.
    let mut open: Vec<(usize, (usize, usize))> = Vec::new();
    // The size under each anchor id, for its aliases.
    let mut anchored: HashMap<usize, (usize, usize)> = HashMap::new();
    let add = |size: &mut (usize, usize), (v, b): (usize, usize)| {
        *size = (size.0.saturating_add(v), size.1.saturating_add(b));
    };
    loop {
        let (event, mark) = parser.next_token().map_err(|e| syntax_error(&e))?;
        match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(value, _, anchor, _) => {
                add(&mut size, (1, value.len()));
                if anchor > 0 {
                    anchored.insert(anchor, (1, value.len()));
                }
            }
            Event::Alias(id) => add(&mut size, anchored.get(&id).copied().unwrap_or((1, 0))),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                add(&mut size, (1, 0));
                open.push((anchor, size));
                if open.len() > MAX_DEPTH {
                    return Err(too_big(
                        mark,
                        format!("lists and mappings nested more than {MAX_DEPTH} deep"),
                    ));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = open.pop() {
                    if anchor > 0 {
                        let under = (size.0 - start.0 + 1, size.1 - start.1);
                        anchored.insert(anchor, under);
                    }
                }
            }
            _ => {}
        }
        if size.0 > MAX_VALUES || size.1 > MAX_TEXT {
            return Err(too_big(
                mark,
                format!(
                    "more than {MAX_VALUES} values or {MAX_TEXT} bytes of text (aliases counted as what they repeat)"
                ),
            ));
        }
    }
}

/// A value in a document, with the dotted path that leads to it (for messages).
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The value.
    pub yaml: &'a Yaml,
    /// Dotted path from the document's root; empty for the root.
    pub path: String,
}

impl<'a> Node<'a> {
    /// The root of a document.
    pub fn root(yaml: &'a Yaml) -> Node<'a> {
        Node {
            yaml,
            path: String::new(),
        }
    }

    /// An error about this value.
    pub fn error(&self, message: impl Into<String>) -> YamlError {
        YamlError {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// A mapping whose keys must all be in `allowed`; `null` (a key with nothing under it) is
    /// an empty mapping.
    pub fn map(&self, allowed: &[&str]) -> Result<Map<'a>, YamlError> {
        let entries = self.entries()?;
        if let Some((key, node)) = entries.iter().find(|(k, _)| !allowed.contains(k)) {
            let expected = allowed.join(", ");
            let key = shown(key);
            return Err(node.error(format!("unknown key '{key}' (expected one of: {expected})")));
        }
        Ok(Map {
            entries,
            path: self.path.clone(),
        })
    }

    /// The entries of a mapping with free-form string keys (a user list, a module list), in
    /// file order; `null` has none.
    pub fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>, YamlError> {
        let hash = match self.yaml {
            Yaml::Hash(h) => h,
            Yaml::Null => return Ok(Vec::new()),
            other => return Err(self.error(format!("expected a mapping, got {}", kind(other)))),
        };
        hash.iter()
            .map(|(k, v)| {
                let key = match k {
                    Yaml::String(s) => s.as_str(),
                    other => {
                        return Err(self.error(format!(
                            "keys must be strings, got {} {}",
                            kind(other),
                            scalar_text(other).unwrap_or_default()
                        )));
                    }
                };
                Ok((key, self.child(key, v)))
            })
            .collect()
    }

    /// The items of a sequence; `null` has none.
    pub fn list(&self) -> Result<Vec<Node<'a>>, YamlError> {
        match self.yaml {
            Yaml::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| self.child(&format!("[{i}]"), v))
                .collect()),
            Yaml::Null => Ok(Vec::new()),
            other => Err(self.error(format!("expected a list, got {}", kind(other)))),
        }
    }

    /// A string scalar.
    pub fn str(&self) -> Result<&'a str, YamlError> {
        match self.yaml {
            Yaml::String(s) => Ok(s),
            other => Err(self.error(format!("expected a string, got {}", kind(other)))),
        }
    }

    /// A scalar as text: a string as written, a number or boolean as YAML wrote it (`10`, `true`),
    /// for values that are text to us but that a file may leave unquoted.
    pub fn text(&self) -> Result<String, YamlError> {
        match self.yaml {
            Yaml::String(s) => Ok(s.clone()),
            other => scalar_text(other)
                .ok_or_else(|| self.error(format!("expected a single value, got {}", kind(other)))),
        }
    }

    /// A boolean scalar.
    pub fn bool(&self) -> Result<bool, YamlError> {
        match self.yaml {
            Yaml::Boolean(b) => Ok(*b),
            other => Err(self.error(format!("expected true or false, got {}", kind(other)))),
        }
    }

    /// The node under `key` (shown escaped and bounded in the path).
    fn child(&self, key: &str, yaml: &'a Yaml) -> Node<'a> {
        let key = shown(key);
        let path = match (self.path.is_empty(), key.starts_with('[')) {
            (true, _) => key,
            (false, true) => format!("{}{key}", self.path),
            (false, false) => format!("{}.{key}", self.path),
        };
        Node { yaml, path }
    }
}

/// A mapping whose keys were checked against a list.
#[derive(Debug)]
pub struct Map<'a> {
    entries: Vec<(&'a str, Node<'a>)>,
    path: String,
}

impl<'a> Map<'a> {
    /// The value under `key`, unless absent or `null`.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries
            .iter()
            .find(|(k, v)| *k == key && !v.yaml.is_null())
            .map(|(_, v)| v)
    }

    /// The string under `key`, if present.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, YamlError> {
        self.get(key).map(Node::str).transpose()
    }

    /// The value under `key` as text (see [`Node::text`]), if present.
    pub fn text(&self, key: &str) -> Result<Option<String>, YamlError> {
        self.get(key).map(Node::text).transpose()
    }

    /// The boolean under `key`, if present.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, YamlError> {
        self.get(key).map(Node::bool).transpose()
    }

    /// The string under `key`, which must be present.
    pub fn required_str(&self, key: &str) -> Result<&'a str, YamlError> {
        self.str(key)?.ok_or_else(|| YamlError {
            path: self.path.clone(),
            message: format!("'{key}' is required"),
        })
    }

    /// An error about the value under `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> YamlError {
        match self.get(key) {
            Some(node) => node.error(message),
            None => YamlError {
                path: self.path.clone(),
                message: message.into(),
            },
        }
    }
}

/// A key (or any text from the file) as messages show it: escaped, so a message stays on one
/// line, and at most 64 bytes, so a hostile file cannot make a huge one.
pub fn shown(key: &str) -> String {
    crate::exposition::truncate_utf8(key, 64)
        .escape_debug()
        .to_string()
}

/// `text` on one line (control characters escaped) and at most about `max` bytes, for
/// messages that quote the file or a value from it.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a value is, for messages.
fn kind(y: &Yaml) -> &'static str {
    match y {
        Yaml::Real(_) => "a number",
        Yaml::Integer(_) => "an integer",
        Yaml::String(_) => "a string",
        Yaml::Boolean(_) => "a boolean",
        Yaml::Array(_) => "a list",
        Yaml::Hash(_) => "a mapping",
        Yaml::Alias(_) => "an alias",
        Yaml::Null => "nothing",
        Yaml::BadValue => "an invalid value",
    }
}

fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_cannot_expand_a_small_file_into_a_huge_document() {
        // Ten levels of ten aliases each: 10^10 values once expanded, from 300 bytes.
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.starts_with("more than 100000 values"), "{e}");
        assert!(e.path.starts_with("line 5 column"), "{e}");
        // Few values, but long ones: bounded by their text.
        let long = format!(
            "a: &a \"{}\"\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
            "x".repeat(100_000)
        );
        let e = parse(&long).unwrap_err();
        assert!(e.message.contains("or 2097152 bytes of text"), "{e}");
        assert!(e.path.starts_with("line 2 column"), "{e}");
        // Aliases within the bound load, each a copy of its anchor.
        let doc = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(doc["b"][1].as_i64(), Some(2));
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        let e = parse(&deep).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "line 1 column {}: lists and mappings nested more than 64 deep",
                2 * MAX_DEPTH + 1
            )
        );
    }

    #[test]
    fn syntax_errors_and_quoted_text_stay_on_one_line() {
        assert_eq!(one_line("a\nb\tc", 100), "a\\nb\\tc");
        assert_eq!(one_line("abcdef", 3), "abc...");
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let doc = parse("outer:\n  known: x\n  typo: y\n").unwrap();
        let root = Node::root(&doc).map(&["outer"]).unwrap();
        let err = root.get("outer").unwrap().map(&["known"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "outer.typo: unknown key 'typo' (expected one of: known)"
        );
    }

    #[test]
    fn types_are_checked() {
        let doc = parse("a: 1\nb: [x, 2]\nc: yes_string\n").unwrap();
        let map = Node::root(&doc).map(&["a", "b", "c"]).unwrap();
        assert_eq!(
            map.str("a").unwrap_err().to_string(),
            "a: expected a string, got an integer"
        );
        let items = map.get("b").unwrap().list().unwrap();
        assert_eq!(items[0].str().unwrap(), "x");
        assert_eq!(
            items[1].str().unwrap_err().to_string(),
            "b[1]: expected a string, got an integer"
        );
        assert_eq!(map.str("c").unwrap(), Some("yes_string"));
        assert_eq!(map.text("a").unwrap().as_deref(), Some("1"));
        assert_eq!(
            map.text("b").unwrap_err().to_string(),
            "b: expected a single value, got a list"
        );
        assert_eq!(
            map.bool("c").unwrap_err().to_string(),
            "c: expected true or false, got a string"
        );
        assert_eq!(map.str("absent").unwrap(), None);
        assert_eq!(
            map.required_str("absent").unwrap_err().message,
            "'absent' is required"
        );
    }

    #[test]
    fn empty_and_null_are_empty_mappings() {
        let doc = parse("").unwrap();
        assert!(Node::root(&doc).map(&[]).unwrap().get("x").is_none());
        let doc = parse("section:\n").unwrap();
        let map = Node::root(&doc).map(&["section"]).unwrap();
        assert!(map.get("section").is_none());
    }

    #[test]
    fn syntax_errors_and_extra_documents_are_errors() {
        let err = parse("a: [1, 2\n").unwrap_err();
        assert!(err.path.starts_with("line "), "{err}");
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.to_string(), "expected one YAML document, found 2");
        let err = Node::root(&parse("- 1\n").unwrap()).map(&[]).unwrap_err();
        assert_eq!(err.to_string(), "expected a mapping, got a list");
        let err = Node::root(&parse("\"a\\nb\": x\n").unwrap())
            .map(&[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a\\nb: unknown key 'a\\nb' (expected one of: )"
        );
        let err = Node::root(&parse("1: x\n").unwrap()).entries().unwrap_err();
        assert_eq!(err.to_string(), "keys must be strings, got an integer 1");
    }
}
