//! The YAML layer: parse `sentri.yaml` into a tree where every node knows its line and column,
//! then read that tree key by key.
//!
//! Deserializing straight into structs would stop at the first wrong type and would drop
//! unknown keys silently (or, with `deny_unknown_fields`, refuse the whole file). Reading a
//! positioned tree instead lets the loader report every problem at once, warn about each
//! unknown key with its path, line and a suggestion, and keep the text of scalars exactly as
//! written (`oracle_version: 12.10` stays "12.10", not 12.1).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::diagnostics::{Diagnostics, Position, WarningKind, closest};

/// A YAML node with its position.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) position: Position,
    pub(crate) value: Value,
}

/// The value of a node. Non-string scalars keep their source text for when a string is wanted.
#[derive(Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool, String),
    Int(i128, String),
    Float(f64, String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) position: Position,
}

/// A YAML syntax error, located.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) position: Option<Position>,
    pub(crate) message: String,
}

/// Parses a document into a positioned tree; `None` for an empty document.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    match serde_saphyr::from_str::<Option<Spanned<RawNode>>>(text) {
        Ok(None) => Ok(None),
        Ok(Some(raw)) => convert(raw, text).map(Some),
        Err(err) => {
            let position = err.location().and_then(|l| position_of(&l));
            let options = serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
            };
            let mut message = err.render_with_options(options);
            if let Some(p) = position {
                let suffix = format!(" at line {}, column {}", p.line, p.column);
                if let Some(stripped) = message.strip_suffix(&suffix) {
                    message = stripped.to_owned();
                }
            }
            message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
            Err(SyntaxError { position, message })
        }
    }
}

fn position_of(location: &serde_saphyr::Location) -> Option<Position> {
    (location.line() > 0).then(|| Position { line: location.line(), column: location.column() })
}

fn source_text(location: &serde_saphyr::Location, text: &str) -> Option<String> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let raw = text.get(start..start.checked_add(len)?)?;
    // An alias (`*name`) has no text of its own worth keeping.
    (!raw.starts_with('*') && !raw.is_empty()).then(|| raw.to_owned())
}

fn convert(raw: Spanned<RawNode>, text: &str) -> Result<Node, SyntaxError> {
    let position = position_of(&raw.referenced).unwrap_or(Position { line: 0, column: 0 });
    let source = source_text(&raw.referenced, text);
    let value = match raw.value {
        RawNode::Null => Value::Null,
        RawNode::Bool(b) => Value::Bool(b, source.unwrap_or_else(|| b.to_string())),
        RawNode::Int(i) => Value::Int(i, source.unwrap_or_else(|| i.to_string())),
        RawNode::Float(x) => Value::Float(x, source.unwrap_or_else(|| x.to_string())),
        RawNode::Str(s) => Value::Str(s),
        RawNode::Seq(items) => Value::Seq(items.into_iter().map(|item| convert(item, text)).collect::<Result<_, _>>()?),
        RawNode::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let key_node = convert(key, text)?;
                let name = match key_node.value {
                    Value::Str(s) => s,
                    Value::Bool(_, s) | Value::Int(_, s) | Value::Float(_, s) => s,
                    Value::Null => "~".to_owned(),
                    Value::Seq(_) | Value::Map(_) => {
                        return Err(SyntaxError {
                            position: Some(key_node.position),
                            message: "a mapping key must be a plain word, not a list or mapping".to_owned(),
                        });
                    }
                };
                out.push((Key { name, position: key_node.position }, convert(value, text)?));
            }
            Value::Map(out)
        }
    };
    Ok(Node { position, value })
}

/// What serde-saphyr hands us; converted to [`Node`] once positions and source text are known.
enum RawNode {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawNode>, Spanned<RawNode>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawNode, E> {
        match i128::try_from(v) {
            Ok(i) => Ok(RawNode::Int(i)),
            // Precision does not matter here: no setting takes a number this large, and the
            // source text is kept for the error message.
            Err(_) => Ok(RawNode::Float(v as f64)),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawNode::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

/// Reads the keys of one mapping. Every key asked for is remembered, so that on
/// [`Fields::finish`] the keys nobody asked for are reported as unknown, with the closest
/// known one suggested.
pub(crate) struct Fields<'n> {
    path: String,
    position: Option<Position>,
    entries: &'n [(Key, Node)],
    used: Vec<bool>,
    known: Vec<&'static str>,
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

impl<'n> Fields<'n> {
    /// Starts reading `node` (absent or null = an empty mapping) found at `path`.
    pub(crate) fn new(node: Option<&'n Node>, path: &str, d: &mut Diagnostics) -> Self {
        let entries: &'n [(Key, Node)] = match node.map(|n| &n.value) {
            Some(Value::Map(entries)) => entries,
            None | Some(Value::Null) => &[],
            Some(_) => {
                d.problem(node.map(|n| n.position), path, "expected a mapping of `key: value` lines");
                &[]
            }
        };
        Self {
            path: path.to_owned(),
            position: node.map(|n| n.position),
            entries,
            used: vec![false; entries.len()],
            known: Vec::new(),
        }
    }

    /// The path of this mapping (`databases[2]`).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Where this mapping starts, for "missing key" messages.
    pub(crate) fn position(&self) -> Option<Position> {
        self.position
    }

    /// The path of one of its keys (`databases[2].name`).
    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Whether `key` is written (even as null). Marks it known, not used.
    pub(crate) fn has(&mut self, key: &'static str) -> bool {
        self.remember(key);
        self.entries.iter().any(|(k, _)| k.name == key)
    }

    fn remember(&mut self, key: &'static str) {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
    }

    /// The node under `key`, null counting as absent.
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'n Node> {
        self.remember(key);
        let entries = self.entries;
        let (i, (_, node)) = entries.iter().enumerate().find(|(_, (k, _))| k.name == key)?;
        self.used[i] = true;
        (!matches!(node.value, Value::Null)).then_some(node)
    }

    /// A text value (numbers and booleans are taken as written).
    pub(crate) fn string(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<String> {
        let node = self.get(key)?;
        as_string(node, &self.key_path(key), d)
    }

    /// A whole number ≥ 0.
    pub(crate) fn uint(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<u64> {
        let node = self.get(key)?;
        let parsed = match &node.value {
            Value::Int(i, _) => u64::try_from(*i).ok(),
            Value::Str(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            d.problem(
                Some(node.position),
                self.key_path(key),
                format!("expected a whole number ≥ 0, found {}", describe(node)),
            );
        }
        parsed
    }

    /// A TCP port (1–65535).
    pub(crate) fn port(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<u16> {
        let n = self.uint(d, key)?;
        match u16::try_from(n) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                d.problem(
                    self.get(key).map(|n| n.position),
                    self.key_path(key),
                    format!("a port must be between 1 and 65535, found {n}"),
                );
                None
            }
        }
    }

    /// A finite number ≥ 0.
    pub(crate) fn float(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<f64> {
        let node = self.get(key)?;
        let parsed = match &node.value {
            Value::Int(i, _) => Some(*i as f64),
            Value::Float(x, _) => Some(*x),
            Value::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|x| x.is_finite() && *x >= 0.0);
        if parsed.is_none() {
            d.problem(
                Some(node.position),
                self.key_path(key),
                format!("expected a number ≥ 0, found {}", describe(node)),
            );
        }
        parsed
    }

    /// `true` or `false` (YAML's `yes`/`no`/`on`/`off` too).
    pub(crate) fn bool(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<bool> {
        let node = self.get(key)?;
        let parsed = match &node.value {
            Value::Bool(b, _) => Some(*b),
            Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(true),
                "false" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            d.problem(
                Some(node.position),
                self.key_path(key),
                format!("expected true or false, found {}", describe(node)),
            );
        }
        parsed
    }

    /// A list written either as a YAML list or as one comma-separated string (the reference
    /// product accepts both, and existing files use both). Empty items are dropped.
    pub(crate) fn list(&mut self, d: &mut Diagnostics, key: &'static str) -> Vec<String> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        let path = self.key_path(key);
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| as_string(item, &format!("{path}[{i}]"), d))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            Value::Str(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            Value::Map(_) => {
                d.problem(Some(node.position), path, "expected a list or a comma-separated string, found a mapping");
                Vec::new()
            }
            _ => as_string(node, &path, d).into_iter().collect(),
        }
    }

    /// A key that would hold a secret. Secrets come only from the environment, so a non-empty
    /// value here is ignored with a warning naming `env_var`; the value is never repeated.
    pub(crate) fn secret_in_file(&mut self, d: &mut Diagnostics, key: &'static str, env_var: &str) {
        let Some(node) = self.get(key) else {
            return;
        };
        if matches!(&node.value, Value::Str(s) if s.trim().is_empty()) {
            return;
        }
        d.warn(
            Some(node.position),
            self.key_path(key),
            WarningKind::SecretInFile { env_var: env_var.to_owned() },
            format!(
                "secrets are not read from this file, so this value is ignored; \
                 set the environment variable {env_var} instead and remove it from the file"
            ),
        );
    }

    /// A key the reference product shipped but never read: accepted, with a warning saying so.
    pub(crate) fn not_used(&mut self, d: &mut Diagnostics, key: &'static str, why: &str) {
        let entries = self.entries;
        self.remember(key);
        if let Some(i) = entries.iter().position(|(k, _)| k.name == key) {
            self.used[i] = true;
            d.warn(
                Some(entries[i].0.position),
                self.key_path(key),
                WarningKind::NotUsed,
                format!("accepted but not used: {why}"),
            );
        }
    }

    /// A nested mapping.
    pub(crate) fn child(&mut self, d: &mut Diagnostics, key: &'static str) -> Fields<'n> {
        let path = self.key_path(key);
        let node = self.get(key);
        Fields::new(node, &path, d)
    }

    /// The items of a nested list, each with its path (`databases[0]`).
    pub(crate) fn items(&mut self, d: &mut Diagnostics, key: &'static str) -> Vec<(String, &'n Node)> {
        let path = self.key_path(key);
        match self.get(key) {
            None => Vec::new(),
            Some(Node { value: Value::Seq(items), .. }) => {
                items.iter().enumerate().map(|(i, item)| (format!("{path}[{i}]"), item)).collect()
            }
            Some(node) => {
                d.problem(
                    Some(node.position),
                    path,
                    format!("expected a list (lines starting with `- `), found {}", describe(node)),
                );
                Vec::new()
            }
        }
    }

    /// A mapping of names the user chooses to nested mappings (`llm.prices`): each name with
    /// its node's fields.
    pub(crate) fn named_children(&mut self, d: &mut Diagnostics, key: &'static str) -> Vec<(String, Fields<'n>)> {
        let path = self.key_path(key);
        match self.get(key) {
            None => Vec::new(),
            Some(Node { value: Value::Map(entries), .. }) => {
                entries.iter().map(|(k, v)| (k.name.clone(), Fields::new(Some(v), &join(&path, &k.name), d))).collect()
            }
            Some(node) => {
                d.problem(Some(node.position), path, format!("expected a mapping of names, found {}", describe(node)));
                Vec::new()
            }
        }
    }

    /// A mapping of names to text values (HTTP headers).
    pub(crate) fn string_map(&mut self, d: &mut Diagnostics, key: &'static str) -> Vec<(String, String)> {
        let path = self.key_path(key);
        match self.get(key) {
            None => Vec::new(),
            Some(Node { value: Value::Map(entries), .. }) => entries
                .iter()
                .filter_map(|(k, v)| as_string(v, &join(&path, &k.name), d).map(|v| (k.name.clone(), v)))
                .collect(),
            Some(node) => {
                d.problem(
                    Some(node.position),
                    path,
                    format!("expected a mapping of names to values, found {}", describe(node)),
                );
                Vec::new()
            }
        }
    }

    /// Reports every key nobody asked for as unknown (with a suggestion when one is near).
    pub(crate) fn finish(self, d: &mut Diagnostics) {
        for ((key, _), used) in self.entries.iter().zip(&self.used) {
            if *used || self.known.contains(&key.name.as_str()) {
                continue;
            }
            let suggestion = closest(&key.name, &self.known);
            let message = match suggestion {
                Some(s) => format!("unknown key, ignored; did you mean `{s}`?"),
                None => format!("unknown key, ignored (known keys here: {})", self.known.join(", ")),
            };
            d.warn(
                Some(key.position),
                join(&self.path, &key.name),
                WarningKind::UnknownKey { suggestion: suggestion.map(str::to_owned) },
                message,
            );
        }
    }
}

/// A scalar as text; lists and mappings are a problem.
fn as_string(node: &Node, path: &str, d: &mut Diagnostics) -> Option<String> {
    match &node.value {
        Value::Null => None,
        Value::Str(s) => Some(s.clone()),
        Value::Bool(_, raw) | Value::Int(_, raw) | Value::Float(_, raw) => Some(raw.clone()),
        Value::Seq(_) | Value::Map(_) => {
            d.problem(Some(node.position), path, format!("expected a single value, found {}", describe(node)));
            None
        }
    }
}

/// A short description of a value for messages about non-secret keys.
fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(_, raw) | Value::Int(_, raw) | Value::Float(_, raw) => format!("`{raw}`"),
        Value::Str(s) => format!("`{s}`"),
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}
