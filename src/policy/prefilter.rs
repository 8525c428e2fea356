//! One pass that rules out most alert policies before any of their patterns runs.
//!
//! A policy's `## Email Pattern` is compiled by fancy-regex, whose backtracking engine is what
//! look-around and back-references need — and what makes trying every policy on every email
//! cost a millisecond. Here each pattern is *relaxed* into one the `regex` crate runs: every
//! look-around becomes the empty group, every back-reference `(?s:.*?)`, every atomic group a
//! plain one. A relaxed pattern matches wherever the original matches (it only drops
//! conditions), so when it does not match, the original cannot either. All relaxed patterns go
//! into one [`regex::RegexSet`], which reads the text once with a linear-time engine and names
//! the policies that may match; only those run their real pattern, and one that needs
//! fancy-regex's engine starts where its relaxed pattern first matches (no match of the original
//! can start earlier), so the slow engine never walks the text before it. A pattern the relaxation
//! cannot read (a conditional, syntax the `regex` crate lacks) is simply always run, so the
//! prefilter can only skip work, never change a result.

use std::sync::Arc;

use super::AlertPolicy;

/// The relaxed patterns of a policy set, in the set's order.
#[derive(Debug)]
pub struct AlertPrefilter {
    /// The policies it was built for, to notice a set changed afterwards (tests build sets by
    /// hand).
    policies: Vec<Arc<AlertPolicy>>,
    set: Option<regex::RegexSet>,
    /// Per policy, its pattern's index in `set`; `None`: always run it.
    slots: Vec<Option<usize>>,
    /// Per policy whose relaxed pattern differs from its own (it needs fancy-regex), the relaxed
    /// pattern alone, to find where the original's search may start.
    seeks: Vec<Option<regex::Regex>>,
}

/// The `regex` crate's compiled-size limits for the set: the default pack's patterns are
/// Unicode-aware and case-insensitive, which is large; past these the set is not built and
/// every policy runs (slower, never wrong).
const SET_SIZE_LIMIT: usize = 64 * 1024 * 1024;
const SET_DFA_SIZE_LIMIT: usize = 16 * 1024 * 1024;

impl AlertPrefilter {
    /// Relaxes and compiles every policy's pattern into one set.
    pub fn build(policies: &[Arc<AlertPolicy>]) -> AlertPrefilter {
        let mut sources = Vec::new();
        let mut slots = Vec::with_capacity(policies.len());
        let mut seeks = Vec::with_capacity(policies.len());
        for policy in policies {
            let relaxed = relaxed(&policy.pattern.source);
            let compiled = relaxed.as_deref().and_then(compile);
            match (relaxed, compiled) {
                (Some(source), Some(regex)) => {
                    slots.push(Some(sources.len()));
                    seeks.push((source != policy.pattern.source).then_some(regex));
                    sources.push(source);
                }
                _ => {
                    slots.push(None);
                    seeks.push(None);
                }
            }
        }
        let set = regex::RegexSetBuilder::new(&sources)
            .case_insensitive(true)
            .dot_matches_new_line(true)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_DFA_SIZE_LIMIT)
            .build()
            .ok();
        if set.is_none() {
            slots.iter_mut().for_each(|slot| *slot = None);
        }
        AlertPrefilter { policies: policies.to_vec(), set, slots, seeks }
    }

    /// True when this prefilter was built for exactly these policies, in this order.
    pub fn is_for(&self, policies: &[Arc<AlertPolicy>]) -> bool {
        self.policies.len() == policies.len() && self.policies.iter().zip(policies).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// Per policy, where in `text` its pattern's search may start: `None` when it certainly
    /// does not match, else the byte offset before which no match of it can start.
    pub fn candidates(&self, text: &str) -> Vec<Option<usize>> {
        let matched = self.set.as_ref().map(|set| set.matches(text));
        self.slots
            .iter()
            .zip(&self.seeks)
            .map(|(slot, seek)| match (slot, &matched) {
                (Some(index), Some(matched)) if !matched.matched(*index) => None,
                (Some(_), Some(_)) => match seek {
                    Some(seek) => seek.find(text).map(|found| found.start()),
                    None => Some(0),
                },
                _ => Some(0),
            })
            .collect()
    }

    /// How many policies the set can rule out (the others always run).
    pub fn filtered(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }
}

fn compile(source: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .dot_matches_new_line(true)
        .size_limit(SET_SIZE_LIMIT)
        .build()
        .ok()
}

/// What a back-reference becomes: anything at all, since it repeats text a group matched.
const ANYTHING: &str = "(?s:.*?)";
/// What a look-around becomes: a group that matches the empty string, so that a quantifier
/// after it still has something to repeat.
const EMPTY: &str = "(?:)";

/// `source` with every condition the `regex` crate cannot run dropped: a pattern that matches
/// at least wherever `source` matches. `None` when it holds syntax this does not know how to
/// relax safely (a conditional group, an unbalanced group or class).
pub fn relaxed(source: &str) -> Option<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '\\' => {
                let next = *chars.get(index + 1)?;
                if next.is_ascii_digit() && next != '0' {
                    // `\1`: a back-reference by number.
                    index += 1;
                    while chars.get(index).is_some_and(char::is_ascii_digit) {
                        index += 1;
                    }
                    out.push_str(ANYTHING);
                    continue;
                }
                if next == 'k' && chars.get(index + 2) == Some(&'<') {
                    let close = (index + 3..chars.len()).find(|at| chars[*at] == '>')?;
                    out.push_str(ANYTHING);
                    index = close + 1;
                    continue;
                }
                out.push(c);
                out.push(next);
                index += 2;
            }
            '[' => {
                let end = class_end(&chars, index)?;
                out.extend(&chars[index..end]);
                index = end;
            }
            '(' if chars.get(index + 1) == Some(&'?') => {
                let rest: String = chars[index..chars.len().min(index + 4)].iter().collect();
                if rest.starts_with("(?=")
                    || rest.starts_with("(?!")
                    || rest.starts_with("(?<=")
                    || rest.starts_with("(?<!")
                {
                    index = group_end(&chars, index)?;
                    out.push_str(EMPTY);
                } else if rest.starts_with("(?P=") {
                    index = group_end(&chars, index)?;
                    out.push_str(ANYTHING);
                } else if rest.starts_with("(?>") {
                    out.push_str("(?:");
                    index += 3;
                } else if rest.starts_with("(?(") {
                    return None;
                } else {
                    out.push_str("(?");
                    index += 2;
                }
            }
            _ => {
                out.push(c);
                index += 1;
            }
        }
    }
    Some(out)
}

/// The index just past the `)` closing the group that opens at `open`.
fn group_end(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = open;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 1,
            '[' => {
                index = class_end(chars, index)?;
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// The index just past the `]` closing the character class that opens at `open`: a `]` first
/// (after an optional `^`) is literal, escapes are skipped, nested classes (`[a[b]]`,
/// `[[:alpha:]]`) are counted.
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut index = open + 1;
    if chars.get(index) == Some(&'^') {
        index += 1;
    }
    if chars.get(index) == Some(&']') {
        index += 1;
    }
    let mut depth = 1usize;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 1,
            '[' => {
                depth += 1;
                // A nested class may open with a literal `]` too.
                if chars.get(index + 1) == Some(&'^') {
                    index += 1;
                }
                if chars.get(index + 1) == Some(&']') {
                    index += 1;
                }
            }
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_arounds_and_back_references_are_dropped() {
        assert_eq!(relaxed(r"(?<!temp\s)tablespace (\w+)").as_deref(), Some(r"(?:)tablespace (\w+)"));
        assert_eq!(relaxed(r"a(?=b)c(?!d)").as_deref(), Some("a(?:)c(?:)"));
        assert_eq!(relaxed(r"(\w+) \1").as_deref(), Some(r"(\w+) (?s:.*?)"));
        assert_eq!(relaxed(r"(?P<x>\w+) (?P=x)").as_deref(), Some(r"(?P<x>\w+) (?s:.*?)"));
        assert_eq!(relaxed(r"(?>ab)+").as_deref(), Some("(?:ab)+"));
        assert_eq!(relaxed(r"(?(1)a|b)"), None, "a conditional is not relaxed");
    }

    #[test]
    fn classes_and_escapes_are_copied_as_they_are() {
        assert_eq!(relaxed(r"[(?=]x\(?=y\)").as_deref(), Some(r"[(?=]x\(?=y\)"));
        assert_eq!(relaxed(r"[]()]+(?=z)").as_deref(), Some(r"[]()]+(?:)"));
        assert_eq!(relaxed(r"(?<![[:alpha:])])x").as_deref(), Some("(?:)x"));
        assert_eq!(relaxed(r"[unclosed"), None);
        assert_eq!(relaxed(r"(?=unclosed"), None);
    }

    #[test]
    fn a_relaxed_pattern_matches_wherever_the_original_does() {
        let cases = [
            (r"(?<!temp\s)tablespace\s+(\w+)", "tablespace USERS is full", true),
            (r"(?<!temp\s)tablespace\s+(\w+)", "temp tablespace TEMP", true),
            (r"(\w+) \1", "hello hello", true),
            (r"x(?=\d)", "y", false),
        ];
        for (source, text, relaxed_matches) in cases {
            let original = crate::policy::alert::compile_regex(source).unwrap();
            let relaxed = regex::RegexBuilder::new(&relaxed(source).unwrap()).case_insensitive(true).build().unwrap();
            if original.is_match(text).unwrap() {
                assert!(relaxed.is_match(text), "{source} on {text}");
            }
            assert_eq!(relaxed.is_match(text), relaxed_matches, "{source} on {text}");
        }
    }
}
