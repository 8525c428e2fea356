//! The rules that read an approval reply, as pure functions: who sent it, whether a machine
//! sent it, which workflow it names, and what its author wrote on the first line that is theirs.
//!
//! Mail clients put the author's text above (or, rarely, below) a copy of the request: quoted
//! with `>` (Gmail, Apple Mail, Thunderbird, plain-text Outlook), introduced by an attribution
//! ("On … wrote:") or by a header block (Outlook's `From:`/`Sent:`, "-----Original Message-----",
//! forwarded-message banners). Only the author's own first line can approve or deny; everything
//! from the first quote boundary on is somebody else's text, including the request's own words.

use std::collections::HashSet;

use crate::store::approvals::Decision;

/// Header names (lower case) and values that mark a message a machine sent on its own.
fn auto_reply_marker(name: &str, value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    match name.to_ascii_lowercase().as_str() {
        // RFC 3834: anything but "no" (parameters after ';' do not change that).
        "auto-submitted" => value.split(';').next().unwrap_or_default().trim() != "no",
        "x-autoreply" | "x-autorespond" | "x-autoresponse" => true,
        "precedence" => matches!(value.as_str(), "bulk" | "junk" | "list" | "auto_reply"),
        _ => false,
    }
}

/// The header that shows the message was sent by an auto-responder or a list, if any.
pub fn auto_reply(headers: &[(String, String)]) -> Option<String> {
    headers.iter().find(|(name, value)| auto_reply_marker(name, value)).map(|(name, value)| format!("{name}: {value}"))
}

/// Whether the message carries Sentri's own header (a request that bounced or was forwarded back).
pub fn own_mail(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, _)| name.eq_ignore_ascii_case(crate::notify::SENTRI_HEADER))
}

/// The workflow short id in a `[WF:xxxxxxxx]` subject tag (lower case), if any.
pub fn subject_workflow(subject: &str) -> Option<String> {
    let upper = subject.to_ascii_uppercase();
    let mut rest = upper.as_str();
    while let Some(at) = rest.find("[WF:") {
        let tail = &rest[at + 4..];
        let hex: String = tail.chars().take(8).collect();
        if hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) && tail[8..].starts_with(']') {
            return Some(hex.to_ascii_lowercase());
        }
        rest = tail;
    }
    None
}

/// The one address of a From value (`Name <addr>` or `addr`), lower case; `None` when it is not
/// exactly one plausible address.
pub fn sender_address(from: &str) -> Option<String> {
    let from = from.trim();
    let address = match (from.rfind('<'), from.ends_with('>')) {
        (Some(open), true) => &from[open + 1..from.len() - 1],
        (None, false) => from,
        _ => return None,
    };
    let address = address.trim();
    let (local, domain) = address.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    plausible.then(|| address.to_ascii_lowercase())
}

/// The one sender of a message: exactly one From header naming exactly one address, lower
/// case. Several From headers or several addresses in one — which many clients display as only
/// the first — are refused (`None`), as is a message with no From at all.
pub fn single_sender(headers: &[(String, String)]) -> Option<String> {
    let mut froms = headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("from"));
    let (_, raw) = froms.next()?;
    if froms.next().is_some() {
        return None;
    }
    let header = format!("From: {raw}\r\n\r\n");
    let parsed = mail_parser::MessageParser::default().parse(header.as_bytes())?;
    let mut addresses = parsed.from()?.iter();
    let only = addresses.next()?;
    if addresses.next().is_some() {
        return None;
    }
    sender_address(only.address()?)
}

/// Whether `address` (already from [`sender_address`]) is on the approvers list: exact address,
/// case-insensitive. A list entry may be written `Name <addr>`.
pub fn is_approver(address: &str, approvers: &[String]) -> bool {
    approvers.iter().filter_map(|entry| sender_address(entry)).any(|entry| entry == address)
}

/// What the author's first line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionLine {
    /// APPROVED or DENIED as the first word; the rest of the line is the reason.
    Found { decision: Decision, reason: String },
    /// The author's first line says something else (kept for the audit trail).
    NotADecision { line: String },
    /// The author wrote nothing of their own before the quoted text.
    Nothing,
}

/// Reads the author's first line: the first line that is not empty, not quoted (`>`), not
/// inside or after a quote boundary (attribution, forwarded or original-message header block)
/// and not a line of the request itself (`request_text`). It decides only if its first word is
/// APPROVED or DENIED (any case) followed by nothing, a space or `. , : ; ! -`; "NOT APPROVED",
/// "approved?" and "Approvedd" do not.
pub fn decision_line(body: &str, request_text: Option<&str>) -> DecisionLine {
    let request_lines: HashSet<String> =
        request_text.unwrap_or_default().lines().map(normalise).filter(|line| !line.is_empty()).collect();
    let lines: Vec<String> = body.lines().map(normalise).collect();
    for (index, line) in lines.iter().enumerate() {
        if line.is_empty() || line.starts_with('>') {
            continue;
        }
        if starts_quote(&lines[index..]) {
            return DecisionLine::Nothing;
        }
        if request_lines.contains(line) {
            continue;
        }
        return classify(line);
    }
    DecisionLine::Nothing
}

/// A line with surrounding white space (including no-break spaces and a BOM) removed.
fn normalise(line: &str) -> String {
    line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}').to_owned()
}

fn classify(line: &str) -> DecisionLine {
    let word_end = line.find(|c: char| !c.is_alphabetic()).unwrap_or(line.len());
    let (word, rest) = line.split_at(word_end);
    let decision = match word.to_uppercase().as_str() {
        "APPROVED" => Decision::Approved,
        "DENIED" => Decision::Denied,
        _ => return DecisionLine::NotADecision { line: line.to_owned() },
    };
    let clean_end = rest.chars().next().is_none_or(|c| c.is_whitespace() || ".,:;!-–—".contains(c));
    if !clean_end {
        return DecisionLine::NotADecision { line: line.to_owned() };
    }
    let reason = rest.trim_start_matches(|c: char| c.is_whitespace() || ".,:;!-–—".contains(c)).trim().to_owned();
    DecisionLine::Found { decision, reason }
}

/// The verb of an attribution line ("On … wrote:", "Am … schrieb X:") in common client languages.
const ATTRIBUTION_WORDS: [&str; 6] = ["wrote", "writes", "schrieb", "a écrit", "escribió", "ha scritto"];
/// Banners that start a copy of another message.
const BANNERS: [&str; 6] = [
    "-----original message-----",
    "---- original message ----",
    "-------- original message --------",
    "begin forwarded message:",
    "-------- forwarded message --------",
    "---------- forwarded message ---------",
];
/// Header names that open a quoted header block (Outlook and forwards), in common languages.
const BLOCK_FROM: [&str; 4] = ["from:", "von:", "de:", "da:"];
const BLOCK_NEXT: [&str; 12] =
    ["sent:", "date:", "to:", "subject:", "cc:", "gesendet:", "datum:", "an:", "betreff:", "envoyé:", "objet:", "à:"];

/// Whether a copy of another message starts at `lines[0]`: an attribution (possibly wrapped
/// onto the next line), a banner, a long rule of underscores or dashes, or a header block (a
/// `From:` line followed by `Sent:`/`Date:`/`To:`/`Subject:` within three lines).
fn starts_quote(lines: &[String]) -> bool {
    let Some(first) = lines.first() else { return false };
    let lower = first.to_lowercase();
    if BANNERS.iter().any(|banner| lower.starts_with(banner)) {
        return true;
    }
    if lower.len() >= 10 && lower.chars().all(|c| c == '_') || lower.len() >= 20 && lower.chars().all(|c| c == '-') {
        return true;
    }
    let attribution = |text: &str| text.ends_with(':') && ATTRIBUTION_WORDS.iter().any(|word| text.contains(word));
    let opens_attribution = ["on ", "am ", "le ", "el ", "il "].iter().any(|start| lower.starts_with(start));
    if opens_attribution {
        let next = lines.get(1).map(|line| line.to_lowercase()).unwrap_or_default();
        if attribution(&lower) || attribution(&next) {
            return true;
        }
    }
    if BLOCK_FROM.iter().any(|name| lower.starts_with(name)) {
        let header_follows = lines
            .iter()
            .skip(1)
            .filter(|line| !line.is_empty())
            .take(3)
            .any(|line| BLOCK_NEXT.iter().any(|name| line.to_lowercase().starts_with(name)));
        if header_follows {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests;
