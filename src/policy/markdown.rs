//! The generic shape of every policy file: YAML front matter, then `##` sections holding fenced
//! code blocks, bullets and prose.
//!
//! The rules are the reference product's, so its users' files read the same way: only `##`
//! starts a section (`#`, `###` stay inside), text before the first `##` is ignored, and section
//! headings are normalised to keys (`Pre-Flight Checks` → `preflight_checks`). We parse with
//! pulldown-cmark rather than line regexes so that a `##` inside a code block is code, and we
//! keep the line of everything so that every error can point at it.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};

/// A parsed policy file, before any meaning is given to its sections.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub front_matter: Option<FrontMatter>,
    pub sections: Vec<Section>,
}

/// The YAML between the opening and closing `---` lines.
#[derive(Debug, Clone)]
pub struct FrontMatter {
    pub yaml: String,
    /// 1-based line of the first YAML line, to turn YAML error positions into file lines.
    pub first_line: usize,
}

/// One `##` section: its heading, normalised key, and its content in document order.
#[derive(Debug, Clone)]
pub struct Section {
    pub heading: String,
    pub key: String,
    pub line: usize,
    pub elements: Vec<Element>,
}

/// A piece of a section's content. Order matters: a sample's bullets follow its email block.
#[derive(Debug, Clone)]
pub enum Element {
    Code(CodeBlock),
    Item(Item),
    Text(Item),
}

#[derive(Debug, Clone)]
pub struct CodeBlock {
    /// The info string's first word, lower-cased; `text` when the fence has none.
    pub lang: String,
    /// The info string's second word, lower-cased, when there is one: a block's role in its
    /// section (```` ```sql rollback ```` in a specialist's fix).
    pub role: Option<String>,
    pub code: String,
    /// 1-based line of the opening fence.
    pub line: usize,
}

/// A bullet or a line of prose, as written in the source (inline code keeps its backticks).
#[derive(Debug, Clone)]
pub struct Item {
    pub text: String,
    pub line: usize,
}

impl Document {
    /// The first section whose normalised key is `key`.
    pub fn section(&self, key: &str) -> Option<&Section> {
        self.sections.iter().find(|section| section.key == key)
    }
}

impl Section {
    pub fn code_blocks(&self) -> impl Iterator<Item = &CodeBlock> {
        self.elements.iter().filter_map(|element| match element {
            Element::Code(block) => Some(block),
            _ => None,
        })
    }

    /// Code blocks in one language (`sql`, `regex`, `email`), in document order.
    pub fn blocks(&self, lang: &str) -> impl Iterator<Item = &CodeBlock> {
        let lang = lang.to_owned();
        self.code_blocks().filter(move |block| block.lang == lang)
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.elements.iter().filter_map(|element| match element {
            Element::Item(item) => Some(item),
            _ => None,
        })
    }

    /// The prose of the section, one line per paragraph line.
    pub fn text(&self) -> String {
        self.elements
            .iter()
            .filter_map(|element| match element {
                Element::Text(item) => Some(item.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Normalises a heading the reference way: lower-case, drop everything outside `[a-z0-9\s]`,
/// runs of whitespace become `_`.
pub fn section_key(heading: &str) -> String {
    let kept: String = heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c.is_whitespace())
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join("_")
}

/// Parses a policy file. Never fails: a file without front matter or sections is simply
/// empty, and the kind-specific loaders say what is missing.
pub fn parse(source: &str) -> Document {
    let (front_matter, body, body_offset) = split_front_matter(source);
    let lines = LineIndex::new(source);
    let mut document = Document { front_matter, sections: Vec::new() };

    let mut events = Parser::new(body).into_offset_iter().peekable();
    let mut current: Option<Section> = None;
    let mut list_depth = 0usize;
    while let Some((event, range)) = events.next() {
        let line = lines.line_of(body_offset + range.start);
        match event {
            Event::Start(Tag::Heading { level: HeadingLevel::H2, .. }) => {
                let heading = body[range.clone()].trim_start_matches('#').trim().to_owned();
                skip_until(&mut events, |end| matches!(end, TagEnd::Heading(_)));
                if let Some(section) = current.take() {
                    document.sections.push(section);
                }
                let heading = heading.trim_end_matches('#').trim().to_owned();
                current = Some(Section { key: section_key(&heading), heading, line, elements: Vec::new() });
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let (lang, role) = match kind {
                    CodeBlockKind::Fenced(info) => {
                        let mut words = info.split_whitespace().map(str::to_lowercase);
                        (words.next().unwrap_or_default(), words.next())
                    }
                    CodeBlockKind::Indented => (String::new(), None),
                };
                let mut code = String::new();
                for (inner, _) in events.by_ref() {
                    match inner {
                        Event::Text(text) => code.push_str(&text),
                        Event::End(TagEnd::CodeBlock) => break,
                        _ => {}
                    }
                }
                let lang = if lang.is_empty() { "text".to_owned() } else { lang };
                if let Some(section) = current.as_mut() {
                    section.elements.push(Element::Code(CodeBlock { lang, role, code, line }));
                }
            }
            Event::Start(Tag::List(_)) => list_depth += 1,
            Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
            Event::Start(Tag::Item) => {
                let text = item_text(&body[range.clone()]);
                if let Some(section) = current.as_mut() {
                    section.elements.push(Element::Item(Item { text, line }));
                }
                // Nested lists are items of their own; everything else in the item is its text.
                skip_item_text(&mut events);
            }
            Event::Start(Tag::Paragraph) | Event::Start(Tag::Heading { .. }) if list_depth == 0 => {
                if let Some(section) = current.as_mut() {
                    push_text_lines(section, &body[range.clone()], line);
                }
            }
            Event::Start(Tag::Table(_)) => {
                // Tables (brain files) are kept as prose lines; their readers split the cells.
                if let Some(section) = current.as_mut() {
                    push_text_lines(section, &body[range.clone()], line);
                }
                skip_until(&mut events, |end| matches!(end, TagEnd::Table));
            }
            _ => {}
        }
    }
    if let Some(section) = current.take() {
        document.sections.push(section);
    }
    document
}

/// Adds each non-blank source line as prose, keeping its own line number.
fn push_text_lines(section: &mut Section, source: &str, first_line: usize) {
    for (offset, text) in source.lines().enumerate() {
        let text = text.trim();
        if !text.is_empty() {
            section.elements.push(Element::Text(Item { text: text.to_owned(), line: first_line + offset }));
        }
    }
}

type Events<'a> = std::iter::Peekable<pulldown_cmark::OffsetIter<'a>>;

fn skip_until(events: &mut Events<'_>, is_end: impl Fn(&TagEnd) -> bool) {
    for (event, _) in events.by_ref() {
        if let Event::End(end) = &event
            && is_end(end)
        {
            return;
        }
    }
}

/// Consumes an item's own content up to a nested list or the item's end, so the nested list's
/// items are seen as items by the main loop.
fn skip_item_text(events: &mut Events<'_>) {
    let mut depth = 0usize;
    while let Some((event, _)) = events.peek() {
        match event {
            Event::Start(Tag::List(_)) if depth == 0 => return,
            Event::Start(Tag::Item) => depth += 1,
            Event::End(TagEnd::Item) if depth == 0 => {
                events.next();
                return;
            }
            Event::End(TagEnd::Item) => depth -= 1,
            _ => {}
        }
        events.next();
    }
}

/// The text of a bullet as written: marker removed, continuation lines joined, nested lists cut.
fn item_text(source: &str) -> String {
    let mut parts = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if index == 0 {
            let without_marker = trimmed
                .strip_prefix("- ")
                .or_else(|| trimmed.strip_prefix("* "))
                .or_else(|| trimmed.strip_prefix("+ "))
                .unwrap_or_else(|| strip_ordered_marker(trimmed));
            parts.push(without_marker.trim().to_owned());
            continue;
        }
        if trimmed.is_empty()
            || trimmed.starts_with("- ")
            || trimmed.starts_with("* ")
            || trimmed.starts_with("+ ")
            || trimmed.starts_with("```")
        {
            break;
        }
        parts.push(trimmed.to_owned());
    }
    parts.join(" ")
}

fn strip_ordered_marker(line: &str) -> &str {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest;
        }
    }
    line
}

/// Splits `---\n<yaml>\n---` off the top. Returns the front matter, the rest, and the rest's byte
/// offset in the source.
fn split_front_matter(source: &str) -> (Option<FrontMatter>, &str, usize) {
    let Some(after_open) = source.strip_prefix("---") else {
        return (None, source, 0);
    };
    let Some(first_newline) = after_open.find('\n') else {
        return (None, source, 0);
    };
    if !after_open[..first_newline].trim().is_empty() {
        return (None, source, 0);
    }
    let yaml_start = 3 + first_newline + 1;
    let mut offset = yaml_start;
    for line in source[yaml_start..].split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = source[yaml_start..offset].to_owned();
            let body_offset = offset + line.len();
            let front_matter = FrontMatter { yaml, first_line: 2 };
            return (Some(front_matter), &source[body_offset..], body_offset);
        }
        offset += line.len();
    }
    (None, source, 0)
}

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(index, _)| index + 1));
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "---\ntype: alert_pattern\nseverity: HIGH\n---\n\n# Title, ignored\n\nIntro, ignored.\n\n## Email Pattern\n\n```regex\n(?i)tablespace\\s+(\\S+)\n```\n\n## Extracted Fields\n\n- `tablespace_name` = group(1) -- the name\n- `used_percent` = group(2)\n  continued here\n\n## Pre-Flight Checks\n\n### Not a section\n\nSome prose.\n\n```sql\nSELECT 1 FROM dual;\n```\n\n```sql\n## not a heading\nSELECT 2 FROM dual\n```\n\n## Protected Sessions — Never Kill\n\n* SYS\n";

    #[test]
    fn front_matter_is_split_off() {
        let document = parse(POLICY);
        let front = document.front_matter.expect("front matter");
        assert_eq!(front.yaml, "type: alert_pattern\nseverity: HIGH\n");
        assert_eq!(front.first_line, 2);
    }

    #[test]
    fn only_h2_starts_sections_and_keys_are_normalised() {
        let document = parse(POLICY);
        let keys: Vec<_> = document.sections.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["email_pattern", "extracted_fields", "preflight_checks", "protected_sessions_never_kill"]);
        assert_eq!(section_key("Pre-Flight Checks"), "preflight_checks");
        assert_eq!(section_key("Short-Term Memory"), "shortterm_memory");
    }

    #[test]
    fn code_blocks_keep_language_line_and_text() {
        let document = parse(POLICY);
        let regex = document.section("email_pattern").and_then(|s| s.blocks("regex").next().cloned());
        let regex = regex.expect("regex block");
        assert_eq!(regex.code, "(?i)tablespace\\s+(\\S+)\n");
        assert_eq!(regex.line, 12);
        let preflight = document.section("preflight_checks").expect("section");
        let sql: Vec<_> = preflight.blocks("sql").map(|b| b.code.clone()).collect();
        assert_eq!(sql, ["SELECT 1 FROM dual;\n", "## not a heading\nSELECT 2 FROM dual\n"]);
        assert!(preflight.text().contains("### Not a section"));
        assert!(preflight.text().contains("Some prose."));
    }

    #[test]
    fn bullets_keep_backticks_and_join_continuations() {
        let document = parse(POLICY);
        let items: Vec<_> = document.section("extracted_fields").expect("fields").items().cloned().collect();
        assert_eq!(items[0].text, "`tablespace_name` = group(1) -- the name");
        assert_eq!(items[0].line, 18);
        assert_eq!(items[1].text, "`used_percent` = group(2) continued here");
        let protected = document.section("protected_sessions_never_kill").expect("section");
        assert_eq!(protected.items().next().map(|i| i.text.as_str()), Some("SYS"));
    }

    #[test]
    fn file_without_front_matter_still_parses() {
        let document = parse("## Email Pattern\n```regex\nx\n```\n");
        assert!(document.front_matter.is_none());
        assert_eq!(document.sections.len(), 1);
        assert_eq!(document.sections[0].line, 1);
    }
}
