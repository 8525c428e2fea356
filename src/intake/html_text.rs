//! An HTML-only mail as the text its reader sees: a line break wherever a block element starts
//! or ends, quoted blocks marked with `> `, and everything invisible left out — hidden elements
//! (`<head>`, `<style>`, `<template>`, …) and elements hidden by their attributes (`hidden`,
//! `style="display:none"`, `visibility:hidden`, `mso-hide:all`), so that a hidden APPROVED above
//! what the author wrote is not read as their first line.
//!
//! Mail clients write replies in HTML alone more and more, and only the shape of their lines
//! tells "APPROVED" from the quoted request: Outlook writes `<p class=MsoNormal>` paragraphs,
//! Gmail `<div dir="ltr">` lines above a `<blockquote class="gmail_quote">`, Apple Mail `<div>`s
//! and `<br>`s above a `<blockquote type="cite">`. Gluing them together ("APPROVEDToken: …")
//! loses the reply, so the text keeps the line structure a browser would show.
//!
//! The markup is read by html5gum, a WHATWG tokenizer: entities, comments (Outlook's `<!--[if
//! mso]>`), `<style>` and `<script>` contents, unclosed tags and stray `<` are handled as a
//! browser would. No tree is built: a line break needs only the tags in order, and without a
//! tree neither deep nesting nor a tag with thousands of attributes costs more than its bytes.
//! Every step is one pass over its input (counted in tests, [`work`]).

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

/// Elements a browser shows as a block of their own: a line break before and after.
const BLOCKS: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"caption",
    b"center",
    b"dd",
    b"details",
    b"dialog",
    b"dir",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"header",
    b"hr",
    b"legend",
    b"li",
    b"listing",
    b"main",
    b"menu",
    b"nav",
    b"ol",
    b"p",
    b"pre",
    b"section",
    b"summary",
    b"table",
    b"tbody",
    b"tfoot",
    b"thead",
    b"tr",
    b"ul",
];

/// Elements whose content is never shown.
const HIDDEN: &[&[u8]] = &[b"head", b"noscript", b"script", b"style", b"template", b"title"];

/// Elements that have no content and no end tag: hiding one hides nothing after it.
const VOID: &[&[u8]] = &[
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"source", b"track", b"wbr",
];

/// Whether a `style` attribute hides its element (`display:none`, `visibility:hidden`, Outlook's
/// `mso-hide:all`), read as a browser would: any case, any white space.
fn style_hides(style: &[u8]) -> bool {
    let compact: Vec<u8> = style.iter().filter(|b| !b.is_ascii_whitespace()).map(u8::to_ascii_lowercase).collect();
    [&b"display:none"[..], b"visibility:hidden", b"mso-hide:all"]
        .iter()
        .any(|rule| compact.windows(rule.len()).any(|window| window == *rule))
}

/// A quote nested deeper than this is marked with this many `>`: the marks are written once
/// per line, and a thousand unclosed `<blockquote>`s must not make every line a kilobyte.
const MAX_QUOTE_MARKS: usize = 8;

/// The text of an HTML document or fragment, as its reader sees it. Never fails: markup that is
/// not well formed is read the way a browser reads it.
pub fn html_to_text(html: &str) -> String {
    #[cfg(test)]
    work::add(html.len());
    let mut text = Text::default();
    let mut emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| -> Option<()> {
        text.on(event);
        None
    });
    // `<style>`, `<script>`, `<title>` and `<textarea>` switch the tokenizer to raw text, as
    // the tree builder of a browser would make it.
    emitter.naively_switch_states(true);
    for _ in Tokenizer::new_with_emitter(html, emitter) {}
    text.finish()
}

/// The text written so far and where the writer stands.
#[derive(Debug)]
struct Text {
    out: String,
    /// Nothing written on the current line yet (its quote marks included).
    line_start: bool,
    /// White space seen since the last character written: one space, unless a line ends first.
    space: bool,
    /// Open `<blockquote>`s.
    quote: usize,
    /// Open `<pre>`s: white space kept as written.
    pre: usize,
    /// Open hidden elements.
    hidden: usize,
    /// The start tag being read (its attributes follow it) and whether one of them hides it.
    tag: Vec<u8>,
    attribute: Vec<u8>,
    tag_hides: bool,
    /// An element hidden by its attributes (`hidden`, `style="display:none"`), and how many
    /// elements of its name are open inside it: its content is not shown until its end tag.
    hiding: Option<(Vec<u8>, usize)>,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            out: String::new(),
            line_start: true,
            space: false,
            quote: 0,
            pre: 0,
            hidden: 0,
            tag: Vec::new(),
            attribute: Vec::new(),
            tag_hides: false,
            hiding: None,
        }
    }
}

impl Text {
    fn on(&mut self, event: CallbackEvent<'_>) {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag.clear();
                self.tag.extend_from_slice(name);
                self.tag_hides = false;
                self.start_tag(name);
            }
            CallbackEvent::AttributeName { name } => {
                self.attribute.clear();
                self.attribute.extend_from_slice(name);
                self.tag_hides |= name == b"hidden";
            }
            CallbackEvent::AttributeValue { value } => {
                self.tag_hides |= self.attribute == b"style" && style_hides(value);
            }
            CallbackEvent::CloseStartTag { .. } => self.close_start_tag(),
            CallbackEvent::EndTag { name } => {
                self.end_hiding(name);
                self.end_tag(name);
            }
            CallbackEvent::String { value } if self.hidden == 0 && self.hiding.is_none() => {
                self.characters(&String::from_utf8_lossy(value));
            }
            _ => {}
        }
    }

    /// The start tag's attributes are read: it may start hiding, or nest inside the hidden
    /// element of its name.
    fn close_start_tag(&mut self) {
        if VOID.contains(&self.tag.as_slice()) {
            return;
        }
        match &mut self.hiding {
            Some((name, depth)) if *name == self.tag => *depth += 1,
            Some(_) => {}
            None if self.tag_hides => self.hiding = Some((std::mem::take(&mut self.tag), 1)),
            None => {}
        }
    }

    fn end_hiding(&mut self, name: &[u8]) {
        if let Some((hidden, depth)) = &mut self.hiding
            && hidden.as_slice() == name
        {
            *depth -= 1;
            if *depth == 0 {
                self.hiding = None;
            }
        }
    }

    fn start_tag(&mut self, name: &[u8]) {
        if name == b"body" {
            // A `<head>` the markup never closed ends where the body starts.
            self.hidden = 0;
        }
        if HIDDEN.contains(&name) {
            self.hidden += 1;
            return;
        }
        if name == b"br" {
            self.line_break();
        } else if name == b"td" || name == b"th" {
            self.space = !self.line_start;
        } else if BLOCKS.contains(&name) {
            self.end_line();
            match name {
                b"blockquote" => self.quote += 1,
                b"pre" | b"listing" => self.pre += 1,
                _ => {}
            }
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        if HIDDEN.contains(&name) {
            self.hidden = self.hidden.saturating_sub(1);
            return;
        }
        if name == b"br" {
            // Browsers read a stray `</br>` as `<br>`.
            self.line_break();
        } else if BLOCKS.contains(&name) {
            self.end_line();
            match name {
                b"blockquote" => self.quote = self.quote.saturating_sub(1),
                b"pre" | b"listing" => self.pre = self.pre.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Text between tags: runs of white space, no-break spaces included, become one space (kept
    /// as written in `<pre>`), so an Outlook `<p>&nbsp;</p>` adds no line of spaces.
    fn characters(&mut self, value: &str) {
        #[cfg(test)]
        work::add(value.len());
        for c in value.chars() {
            if self.pre > 0 {
                match c {
                    '\n' => self.line_break(),
                    '\r' => {}
                    '\u{a0}' => self.write(' '),
                    c => self.write(c),
                }
            } else if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}' | '\u{a0}') {
                self.space = !self.line_start;
            } else {
                self.write(c);
            }
        }
    }

    fn write(&mut self, c: char) {
        if self.line_start {
            for _ in 0..self.quote.min(MAX_QUOTE_MARKS) {
                self.out.push_str("> ");
            }
            self.line_start = false;
        } else if self.space {
            self.out.push(' ');
        }
        self.space = false;
        self.out.push(c);
    }

    /// Ends the current line, even an empty one (`<br>`).
    fn line_break(&mut self) {
        self.out.push('\n');
        self.line_start = true;
        self.space = false;
    }

    /// Ends the current line unless nothing is written on it (a block boundary).
    fn end_line(&mut self) {
        if !self.line_start {
            self.line_break();
        }
    }

    fn finish(mut self) -> String {
        let kept = self.out.trim_end().len();
        self.out.truncate(kept);
        #[cfg(test)]
        work::add(self.out.len());
        self.out
    }
}

/// The bytes read and written by [`html_to_text`] on this thread, counted only in tests: what
/// the property test holds linear.
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local! {
        static BYTES: Cell<usize> = const { Cell::new(0) };
    }

    pub fn add(bytes: usize) {
        BYTES.with(|count| count.set(count.get() + bytes));
    }

    /// The bytes counted since the last call, and a fresh start.
    pub fn take() -> usize {
        BYTES.with(|count| count.replace(0))
    }
}

#[cfg(test)]
pub(crate) mod tests;
