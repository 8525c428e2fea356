//! Learned alert policies: the file Sentri writes after a fix for an unknown alert was approved,
//! ran and was validated, so that the next such email is recognised without a model.
//!
//! The file is an ordinary alert policy in the pack's format, under `alerts/learned/`, so a DBA
//! reviews it (`sentri policy learned`), edits or deletes it like any other. Because its
//! content came partly from an email and a model, nothing in it is trusted: every value is
//! written where the Markdown reader cannot take it for structure (fenced with a fence longer
//! than any backtick run inside, YAML strings quoted), and [`check`] reads the rendered text
//! back with the real loader and refuses it unless it says exactly what the draft said. A
//! learned file never replaces a policy a person wrote: [`write`] refuses a name the pack
//! already has, never overwrites, and the loader reads `alerts/learned/` last, so on a
//! duplicate alert type the learned file is the one skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::alert::{AlertPolicy, Learned, Risk};
use super::condition::Condition;
use super::{DbKind, Level, Problem, Severity, markdown};
use crate::domain::{IdentifierKind, WorkflowId};
use crate::sql::classify::{self, Severity as SqlSeverity};
use crate::targets::sql::strip_terminator;

/// The folder under `alerts/` that holds learned policies.
pub const FOLDER: &str = "learned";

/// The longest alert type a learned policy may have (the file stem).
pub const MAX_NAME: usize = 64;

/// The sample is cut here, as the matcher cuts every alert (`pipeline::matcher::MAX_MATCH_TEXT`):
/// a longer sample would prove a match the engine never attempts.
pub const MAX_SAMPLE: usize = 64 * 1024;

/// Everything a learned policy says, before it is rendered. The engine fills it from the
/// workflow: the model's classification, the verification that confirmed the alert, the fix a
/// human approved and the validation that proved it.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedDraft {
    /// The alert type; [`write`] sanitises it to `[a-z0-9_]`, 1..=64 characters.
    pub name: String,
    /// Oracle or PostgreSQL (a learned file sits outside the engine folders, so it says which).
    pub engine: DbKind,
    pub severity: Severity,
    /// The `brain/rules.md` Action Rules row the fix falls under.
    pub action_type: String,
    pub risk: Risk,
    /// For people: what the alert means and what the fix does.
    pub description: String,
    /// The `## Email Pattern` regex, compiled as the loader compiles every pattern.
    pub email_pattern: String,
    /// `(field, capture group)`: one of them must be `database`.
    pub fields: Vec<(String, usize)>,
    /// The read-only query that confirmed the alert.
    pub verification: String,
    /// Conditions on the verification's first row (`blocked_sessions >= 1`).
    pub confirmed_when: Vec<String>,
    /// The approved fix, one statement per step.
    pub forward: Vec<String>,
    /// One statement per forward step undoing it; empty only with `irreversible`.
    pub rollback: Vec<String>,
    /// Why the fix cannot be undone; such a fix always waits for a human approval.
    pub irreversible: Option<String>,
    /// The query run before and after the fix, which the success criteria judge.
    pub validation: Option<String>,
    /// Conditions on the validation row after the fix.
    pub success_criteria: Vec<String>,
    /// Placeholders spliced into DDL, with their kind, as the front matter declares them.
    pub identifiers: BTreeMap<String, IdentifierKind>,
    /// The email the policy was learned from.
    pub sample_alert: SampleAlert,
    /// The workflow whose fix was approved and validated.
    pub learned_from: WorkflowId,
    /// Who approved that fix (`os:alice`, `email:bob@example.com`).
    pub approved_by: Vec<String>,
}

/// The triggering email, as the matcher reads it: subject, then body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleAlert {
    pub subject: String,
    pub body: String,
}

impl SampleAlert {
    /// The sample as the file can hold it: line endings `\n`, the subject on one line, NUL as
    /// U+FFFD (CommonMark's rule), no trailing newlines, at most [`MAX_SAMPLE`] bytes. Render and
    /// check both use this form, so what is checked is what is written.
    pub fn normalized(&self) -> SampleAlert {
        let clean = |text: &str| text.replace("\r\n", "\n").replace('\r', "\n").replace('\0', "\u{FFFD}");
        let subject = clean(&self.subject).replace('\n', " ").trim().to_owned();
        let mut body = clean(&self.body).trim_end_matches(['\n', ' ', '\t']).to_owned();
        let room = MAX_SAMPLE.saturating_sub(subject.len() + 1);
        if body.len() > room {
            let mut cut = room;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        SampleAlert { subject, body }
    }

    /// What the pattern is tried on: `subject + "\n" + body`, as the matcher joins them.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.subject, self.body)
    }
}

/// Why a learned policy was not written.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("learned policy `{name}` fails the policy check: {}", problems.join("; "))]
    Check { name: String, problems: Vec<String> },
    #[error("{path} already exists; a learned policy never overwrites a file (review and delete it first)")]
    Exists { path: PathBuf },
    #[error("alert type `{name}` is already defined by {path}; a learned policy never shadows another")]
    Shadows { name: String, path: PathBuf },
    #[error("{path} is a symbolic link; learned policies are written only into a real folder under alerts/")]
    Symlink { path: PathBuf },
    #[error("{path} resolves outside {root}; refusing to write there")]
    Outside { path: PathBuf, root: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Turns any text into an alert type: lower-case `[a-z0-9_]`, runs of anything else one `_`,
/// no `_` at either end, a leading digit prefixed with `learned_`, at most [`MAX_NAME`]
/// characters. What a path could use (`/`, `..`, NUL, unicode look-alikes) cannot survive it.
pub fn sanitize_name(raw: &str) -> Result<String, LearnError> {
    let mut name = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_matches('_');
    if name.is_empty() {
        return Err(LearnError::InvalidName {
            name: raw.to_owned(),
            reason: "has no letters or digits to make an alert type of",
        });
    }
    let mut name =
        if name.starts_with(|c: char| c.is_ascii_digit()) { format!("learned_{name}") } else { name.to_owned() };
    name.truncate(MAX_NAME);
    Ok(name.trim_end_matches('_').to_owned())
}

/// The policy file for `draft`, in the pack's alert format. Pure: the same draft always renders
/// the same text, which is what [`check`] reads back.
pub fn render(draft: &LearnedDraft) -> String {
    let sample = draft.sample_alert.normalized();
    let mut out = String::new();
    out.push_str("---\n");
    out.push_str("type: alert_pattern\n");
    let _ = writeln!(out, "name: {}", quoted(&draft.name));
    let _ = writeln!(out, "engine: {}", draft.engine.policy_engine().as_str());
    let _ = writeln!(out, "severity: {}", draft.severity.as_str());
    let _ = writeln!(out, "action_type: {}", quoted(&draft.action_type));
    out.push_str("version: 1\n");
    // Below every shipped policy (priority 0): on an email both match, the DBA's policy wins.
    out.push_str("priority: -1\n");
    if !draft.identifiers.is_empty() {
        out.push_str("identifiers:\n");
        for (placeholder, kind) in &draft.identifiers {
            let _ = writeln!(out, "  {}: {}", quoted(placeholder), kind.name());
        }
    }
    if let Some(why) = &draft.irreversible {
        let _ = writeln!(out, "irreversible: {}", quoted(why));
    }
    out.push_str("learned: true\n");
    let _ = writeln!(out, "learned_from: {}", quoted(draft.learned_from.as_str()));
    let approvers: Vec<String> = draft.approved_by.iter().map(|who| quoted(who)).collect();
    let _ = writeln!(out, "approved_by: [{}]", approvers.join(", "));
    out.push_str("---\n\n");

    let _ = writeln!(out, "# Learned: {}\n", draft.name);
    if draft.approved_by.is_empty() {
        // A provisional draft, held by its workflow: never a file until a human said yes.
        out.push_str(
            "Drafted from an alert no policy matched; its workflow waits for a human. Sentri writes it \
             to alerts/learned/ only after that workflow's fix is approved and validated.\n",
        );
    } else {
        let _ = writeln!(
            out,
            "Written by Sentri from workflow {} after its fix was approved and validated.\nReview it \
             with `sentri policy learned`; edit or delete it like any other policy.",
            draft.learned_from.short()
        );
    }
    section(&mut out, "Description");
    out.push_str(&fence("text", &draft.description));
    section(&mut out, "Email Pattern");
    out.push_str(&fence("regex", &draft.email_pattern));
    section(&mut out, "Extracted Fields");
    for (field, group) in &draft.fields {
        let _ = writeln!(out, "- `{field}` = group({group})");
    }
    section(&mut out, "Verification Query");
    out.push_str(&fence("sql", &draft.verification));
    if !draft.confirmed_when.is_empty() {
        section(&mut out, "Confirmed When");
        bullets(&mut out, &draft.confirmed_when);
    }
    section(&mut out, "Forward Action");
    steps(&mut out, &draft.forward);
    if !draft.rollback.is_empty() {
        section(&mut out, "Rollback Action");
        steps(&mut out, &draft.rollback);
    }
    if let Some(validation) = &draft.validation {
        section(&mut out, "Validation Query");
        out.push_str(&fence("sql", validation));
    }
    if !draft.success_criteria.is_empty() {
        section(&mut out, "Success Criteria");
        bullets(&mut out, &draft.success_criteria);
    }
    section(&mut out, "Risk Level");
    if draft.approved_by.is_empty() {
        let _ = writeln!(out, "{} -- until a fix is approved, every fix is treated as this risky", draft.risk.as_str());
    } else {
        let _ = writeln!(
            out,
            "{} -- the risk of the fix as approved in workflow {}",
            draft.risk.as_str(),
            draft.learned_from.short()
        );
    }
    section(&mut out, "Sample Alerts");
    let email = format!("Subject: {}\n\n{}", sample.subject, sample.body);
    out.push_str(&fence("email", &email));
    // The sample's expected fields, so `sentri policy check` proves them with the real matcher.
    // Only values that fit on a bullet as they are: anything else stays unchecked there.
    let expected: Vec<(String, String)> =
        extract(draft, &sample).unwrap_or_default().into_iter().filter(|(_, value)| is_plain(value)).collect();
    if !expected.is_empty() {
        out.push('\n');
    }
    for (field, value) in expected {
        let _ = writeln!(out, "- {field} = {value}");
    }
    out
}

/// Renders `draft` and reads it back with the real loader: `Ok` only when the loaded policy
/// says exactly what the draft says and passes every check of [`check_text`]. Each error starts
/// with the draft field it is about (`email_pattern: …`, `forward[2]: …`).
pub fn check(draft: &LearnedDraft) -> Result<AlertPolicy, Vec<String>> {
    check_at(draft, Stage::Learned)
}

/// What the loader says of a learned file with no approver (`policy::alert`).
const UNAPPROVED_WARNING: &str = "without `approved_by:`";

/// How far a draft has come: a provisional one (a model's reading of an unmatched email, held
/// by its workflow) has no fix and no approver yet; a learned one, written to the pack, has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Provisional,
    Learned,
}

/// [`check`] for a provisional draft: everything but the fix and the approval it does not have
/// yet.
pub fn check_provisional(draft: &LearnedDraft) -> Result<AlertPolicy, Vec<String>> {
    check_at(draft, Stage::Provisional)
}

fn check_at(draft: &LearnedDraft, stage: Stage) -> Result<AlertPolicy, Vec<String>> {
    let learned = stage == Stage::Learned;
    let mut errors = Vec::new();
    match sanitize_name(&draft.name) {
        Ok(name) if name == draft.name => {}
        _ => errors.push(format!("name: `{}` is not an alert type of [a-z0-9_], 1..={MAX_NAME} long", draft.name)),
    }
    for (field, _) in &draft.fields {
        if !is_word(field) {
            errors.push(format!("fields: `{field}` is not a field name of [a-z0-9_]"));
        }
    }
    for placeholder in draft.identifiers.keys() {
        if !is_word(placeholder) {
            errors.push(format!("identifiers: `{placeholder}` is not a placeholder name of [a-z0-9_]"));
        }
    }
    if draft.action_type.is_empty() || !draft.action_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        errors.push(format!("action_type: `{}` is not an Action Rules name of [A-Z0-9_]", draft.action_type));
    }
    for (index, who) in draft.approved_by.iter().enumerate() {
        if who.trim().is_empty() || who.chars().any(char::is_control) {
            errors.push(format!("approved_by[{index}]: `{}` is not an identity", who.escape_debug()));
        }
    }
    if draft.email_pattern.trim() != draft.email_pattern {
        errors.push("email_pattern: leading or trailing whitespace would be lost in the file".to_owned());
    }
    if draft.learned_from.as_str().trim().is_empty() {
        errors.push("learned_from: no workflow id".to_owned());
    }
    if learned && draft.approved_by.is_empty() {
        errors.push("approved_by: a learned policy needs the approval it came from".to_owned());
    }
    if learned && draft.forward.is_empty() {
        errors.push("forward: no fix to learn".to_owned());
    }
    if !draft.success_criteria.is_empty() && draft.validation.is_none() {
        errors.push("validation: success criteria need a validation query to judge".to_owned());
    }
    for (what, conditions) in [("confirmed_when", &draft.confirmed_when), ("success_criteria", &draft.success_criteria)]
    {
        for (index, text) in conditions.iter().enumerate() {
            if text.contains(['\n', '\r']) {
                errors.push(format!("{what}[{index}]: a condition is one line"));
            } else if let Err(message) = Condition::parse(text, 0) {
                errors.push(format!("{what}[{index}]: {message}"));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let text = render(draft);
    let path = PathBuf::from("alerts").join(FOLDER).join(format!("{}.md", draft.name));
    let policy = check_text_at(&path, &text, stage)?;
    let mut errors = Vec::new();
    round_trip(draft, &policy, &text, &mut errors);
    if errors.is_empty() { Ok(policy) } else { Err(errors) }
}

/// Checks a learned policy file as written (the draft may be gone, the file edited): it loads
/// with no error and no warning, is marked `learned: true` with its workflow and approvers, its
/// pattern matches its first sample and extracts `database` from it, and no statement in it
/// classifies as CRITICAL.
pub fn check_text(path: &Path, text: &str) -> Result<AlertPolicy, Vec<String>> {
    check_text_at(path, text, Stage::Learned)
}

/// [`check_text`] for the text of a provisional draft (no fix, no approver yet).
pub fn check_provisional_text(path: &Path, text: &str) -> Result<AlertPolicy, Vec<String>> {
    check_text_at(path, text, Stage::Provisional)
}

fn check_text_at(path: &Path, text: &str, stage: Stage) -> Result<AlertPolicy, Vec<String>> {
    let learned_stage = stage == Stage::Learned;
    let document = markdown::parse(text);
    let mut problems = Vec::new();
    let loaded = AlertPolicy::from_document(path, &document, None, &mut problems);
    let mut errors: Vec<String> = problems
        .iter()
        .filter(|problem| problem.level == Level::Warning)
        // A provisional draft has no approver yet: the loader's warning about it is expected.
        .filter(|problem| learned_stage || !problem.message.contains(UNAPPROVED_WARNING))
        .map(|problem| describe(&document, problem))
        .collect();
    let policy = match loaded {
        Ok(policy) => policy,
        Err(fatal) => {
            errors.extend(fatal.iter().map(|problem| describe(&document, problem)));
            return Err(errors);
        }
    };
    match &policy.learned {
        None => errors.push("learned: the front matter does not say `learned: true`".to_owned()),
        Some(learned) => {
            if learned.workflow.as_str().is_empty() {
                errors.push("learned_from: no workflow id".to_owned());
            }
            if learned_stage && learned.approved_by.is_empty() {
                errors.push("approved_by: nobody approved it".to_owned());
            }
        }
    }
    if learned_stage && policy.forward.is_empty() {
        errors.push("forward: no `## Forward Action`".to_owned());
    }
    if policy.verification.is_none() {
        errors.push("verification: no `## Verification Query`".to_owned());
    }
    match policy.samples.first() {
        None => errors.push("sample_alert: no `## Sample Alerts` email".to_owned()),
        Some(sample) => {
            let text = SampleAlert { subject: sample.subject.clone(), body: sample.body.clone() }.text();
            match policy.pattern.regex.captures(&text) {
                Err(error) => errors.push(format!("email_pattern: cannot finish on the sample alert ({error})")),
                Ok(None) => errors.push("email_pattern: does not match the sample alert".to_owned()),
                Ok(Some(captures)) => {
                    let database = policy
                        .fields
                        .iter()
                        .find(|field| field.name == "database")
                        .and_then(|field| field.groups.iter().find_map(|group| captures.get(*group)))
                        .map(|found| found.as_str().trim())
                        .filter(|value| !value.is_empty());
                    if database.is_none() {
                        errors.push("fields: `database` is not extracted from the sample alert".to_owned());
                    }
                }
            }
        }
    }
    let statements = policy
        .verification
        .iter()
        .map(|block| ("verification".to_owned(), block))
        .chain(policy.forward.iter().enumerate().map(|(index, block)| (format!("forward[{index}]"), block)))
        .chain(policy.rollback.iter().enumerate().map(|(index, block)| (format!("rollback[{index}]"), block)))
        .chain(policy.validation.iter().map(|block| ("validation".to_owned(), block)));
    for (what, block) in statements {
        let class = classify::classify(&block.sql);
        if class.severity == SqlSeverity::Critical {
            errors.push(format!("{what}: CRITICAL statement refused (line {}): {}", block.line, class.why));
        }
    }
    if errors.is_empty() { Ok(policy) } else { Err(errors) }
}

/// Who a learned file says it came from, read from its front matter alone, so a file too
/// broken to load still shows its workflow and approvers in a review.
pub fn provenance(text: &str) -> Option<Learned> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Keys {
        learned: Option<bool>,
        learned_from: Option<String>,
        approved_by: Vec<String>,
    }
    let document = markdown::parse(text);
    let yaml = document.front_matter?.yaml;
    let keys: Keys = serde_saphyr::from_str::<Keys>(&yaml).ok()?;
    keys.learned.filter(|learned| *learned)?;
    Some(Learned {
        workflow: WorkflowId::from(keys.learned_from.unwrap_or_default().trim().to_owned()),
        approved_by: keys.approved_by,
    })
}

/// Writes the learned policy for `draft` to `alerts_dir/learned/<name>.md` and returns its path.
///
/// The name is sanitised ([`sanitize_name`]); the text is [`render`]ed and must pass [`check`];
/// the pack may not already have that alert type anywhere under `alerts_dir`; `learned/` must be
/// a real folder (not a symbolic link) that resolves inside `alerts_dir`; an existing file is
/// never replaced. The file appears whole or not at all (a hidden temporary file in the same
/// folder, linked into place without replacing), so the policy watcher never loads half of it.
pub fn write(alerts_dir: &Path, draft: &LearnedDraft) -> Result<PathBuf, LearnError> {
    let name = sanitize_name(&draft.name)?;
    let draft = LearnedDraft { name: name.clone(), ..draft.clone() };
    check(&draft).map_err(|problems| LearnError::Check { name: name.clone(), problems })?;

    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LearnError::Io { path, source }
    };
    let root = alerts_dir.canonicalize().map_err(io(alerts_dir))?;
    let folder = alerts_dir.join(FOLDER);
    match std::fs::symlink_metadata(&folder) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(LearnError::Symlink { path: folder }),
        Ok(meta) if !meta.is_dir() => {
            return Err(LearnError::Io {
                path: folder,
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::create_dir(&folder) {
                Ok(()) => {}
                // Another writer made it meanwhile: it is checked below like any other.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(LearnError::Io { path: folder, source: error }),
            }
        }
        Err(error) => return Err(LearnError::Io { path: folder, source: error }),
    }
    let resolved = folder.canonicalize().map_err(io(&folder))?;
    if resolved != root.join(FOLDER) || std::fs::symlink_metadata(&folder).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(LearnError::Outside { path: folder, root });
    }

    let mut listing = Vec::new();
    for existing in super::markdown_files(&root, &mut listing) {
        if existing.file_stem().is_some_and(|stem| stem.to_string_lossy().eq_ignore_ascii_case(&name)) {
            if existing.starts_with(&resolved) {
                return Err(LearnError::Exists { path: existing });
            }
            return Err(LearnError::Shadows { name, path: existing });
        }
    }
    let path = resolved.join(format!("{name}.md"));
    // `symlink_metadata` sees a dangling link too: nothing of any kind may be in the way.
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(LearnError::Exists { path });
    }

    let text = render(&draft);
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&resolved)
        .map_err(io(&resolved))?;
    temporary.write_all(text.as_bytes()).map_err(io(temporary.path()))?;
    temporary.as_file().sync_all().map_err(io(temporary.path()))?;
    temporary.persist_noclobber(&path).map_err(|error| {
        if error.error.kind() == std::io::ErrorKind::AlreadyExists {
            LearnError::Exists { path: path.clone() }
        } else {
            LearnError::Io { path: path.clone(), source: error.error }
        }
    })?;
    Ok(path)
}

/// The loaded policy must say what the draft said: a value that changed on the way through the
/// file (an injected section, a lost character) is an error naming the field.
fn round_trip(draft: &LearnedDraft, policy: &AlertPolicy, text: &str, errors: &mut Vec<String>) {
    let document = markdown::parse(text);
    let keys: Vec<&str> = document.sections.iter().map(|section| section.key.as_str()).collect();
    let mut expected = vec!["description", "email_pattern", "extracted_fields", "verification_query"];
    if !draft.confirmed_when.is_empty() {
        expected.push("confirmed_when");
    }
    expected.push("forward_action");
    if !draft.rollback.is_empty() {
        expected.push("rollback_action");
    }
    if draft.validation.is_some() {
        expected.push("validation_query");
    }
    if !draft.success_criteria.is_empty() {
        expected.push("success_criteria");
    }
    expected.extend(["risk_level", "sample_alerts"]);
    if keys != expected {
        errors.push(format!("sections: the file reads as {keys:?}, not {expected:?}"));
    }
    if policy.engine != draft.engine.policy_engine() {
        errors.push(format!("engine: reads back as {}", policy.engine.as_str()));
    }
    if policy.severity != draft.severity {
        errors.push(format!("severity: reads back as {}", policy.severity.as_str()));
    }
    if policy.action_type != draft.action_type.to_uppercase() {
        errors.push(format!("action_type: reads back as `{}`", policy.action_type));
    }
    if policy.risk != draft.risk {
        errors.push(format!("risk: reads back as {}", policy.risk.as_str()));
    }
    if policy.description.trim() != draft.description.replace("\r\n", "\n").trim() {
        errors.push("description: does not read back as written".to_owned());
    }
    if policy.pattern.source != draft.email_pattern {
        errors.push("email_pattern: does not read back as written".to_owned());
    }
    let fields: Vec<(String, Vec<usize>)> =
        policy.fields.iter().map(|field| (field.name.clone(), field.groups.clone())).collect();
    let wanted: Vec<(String, Vec<usize>)> =
        draft.fields.iter().map(|(name, group)| (name.clone(), vec![*group])).collect();
    if fields != wanted {
        errors.push(format!("fields: read back as {fields:?}"));
    }
    if policy.identifiers != draft.identifiers {
        errors.push(format!("identifiers: read back as {:?}", policy.identifiers));
    }
    if policy.irreversible.as_deref() != draft.irreversible.as_deref().map(str::trim) {
        errors.push("irreversible: does not read back as written".to_owned());
    }
    let same_sql = |what: &str, loaded: Vec<&str>, written: &[String], errors: &mut Vec<String>| {
        let written: Vec<String> = written.iter().map(|sql| strip_terminator(&sql.replace("\r\n", "\n"))).collect();
        if loaded.len() != written.len() {
            errors.push(format!("{what}: {} statement(s) written, {} read back", written.len(), loaded.len()));
            return;
        }
        for (index, (loaded, written)) in loaded.iter().zip(&written).enumerate() {
            if loaded != written {
                errors.push(format!("{what}[{index}]: does not read back as written"));
            }
        }
    };
    same_sql(
        "verification",
        policy.verification.iter().map(|block| block.sql.as_str()).collect(),
        std::slice::from_ref(&draft.verification),
        errors,
    );
    same_sql("forward", policy.forward.iter().map(|block| block.sql.as_str()).collect(), &draft.forward, errors);
    same_sql("rollback", policy.rollback.iter().map(|block| block.sql.as_str()).collect(), &draft.rollback, errors);
    same_sql(
        "validation",
        policy.validation.iter().map(|block| block.sql.as_str()).collect(),
        draft.validation.as_slice(),
        errors,
    );
    let same_conditions = |what: &str, loaded: &[Condition], written: &[String], errors: &mut Vec<String>| {
        let loaded: Vec<String> = loaded.iter().map(ToString::to_string).collect();
        let written: Vec<String> = written
            .iter()
            .filter_map(|text| Condition::parse(text, 0).ok())
            .map(|condition| condition.to_string())
            .collect();
        if loaded != written {
            errors.push(format!("{what}: read back as {loaded:?}"));
        }
    };
    same_conditions("confirmed_when", &policy.confirmed_when, &draft.confirmed_when, errors);
    same_conditions("success_criteria", &policy.success_criteria, &draft.success_criteria, errors);
    let sample = draft.sample_alert.normalized();
    match policy.samples.as_slice() {
        [only] if only.subject == sample.subject && only.body == sample.body => {}
        _ => errors.push("sample_alert: does not read back as the email it was learned from".to_owned()),
    }
    let learned = Learned { workflow: draft.learned_from.clone(), approved_by: draft.approved_by.clone() };
    if policy.learned.as_ref() != Some(&learned) {
        errors.push("learned_from/approved_by: do not read back as written".to_owned());
    }
}

/// The draft's fields as its own pattern extracts them from the sample (`None` when it cannot).
pub fn extract(draft: &LearnedDraft, sample: &SampleAlert) -> Option<Vec<(String, String)>> {
    let regex = super::alert::compile_regex(&draft.email_pattern).ok()?;
    let text = sample.text();
    let captures = regex.captures(&text).ok()??;
    Some(
        draft
            .fields
            .iter()
            .filter_map(|(name, group)| {
                let value = captures.get(*group)?.as_str().trim().to_owned();
                (!value.is_empty()).then(|| (name.clone(), value))
            })
            .collect(),
    )
}

/// A loader problem named by the draft field its line is in (`forward, line 40: …`): the
/// section the line falls in, or the front matter above the first section.
fn describe(document: &markdown::Document, problem: &Problem) -> String {
    let section = document.sections.iter().rev().find(|section| section.line <= problem.line);
    let field = match section.map(|section| section.key.as_str()) {
        None => "front_matter",
        Some("email_pattern") => "email_pattern",
        Some("extracted_fields") => "fields",
        Some("verification_query") => "verification",
        Some("confirmed_when") => "confirmed_when",
        Some("forward_action") => "forward",
        Some("rollback_action") => "rollback",
        Some("validation_query") => "validation",
        Some("success_criteria") => "success_criteria",
        Some("risk_level") => "risk",
        Some("sample_alerts") => "sample_alert",
        Some("description") => "description",
        Some(other) => other,
    };
    // A problem the loader places on line 1 is about the front matter, whatever follows it.
    let field = if problem.line <= 1 { "front_matter" } else { field };
    format!("{field}, line {}: {}", problem.line, problem.message)
}

/// A YAML scalar that cannot be read as anything but this string: JSON's quoting is YAML's
/// double-quoted style, with every control character escaped.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn section(out: &mut String, heading: &str) {
    let _ = writeln!(out, "\n## {heading}\n");
}

/// One fenced ```sql block per step, a blank line between them.
fn steps(out: &mut String, statements: &[String]) {
    for (index, statement) in statements.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&fence("sql", statement));
    }
}

fn bullets(out: &mut String, items: &[String]) {
    for item in items {
        let _ = writeln!(out, "- {}", item.trim());
    }
}

/// A fenced block no line of `code` can close: the fence is longer than the longest run of
/// backticks inside, so a ```` ``` ```` or a `## Forward Action` in an email stays text.
fn fence(lang: &str, code: &str) -> String {
    let code = code.replace("\r\n", "\n").replace('\r', "\n");
    let code = code.trim_end_matches('\n');
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let ticks = "`".repeat((longest + 1).max(3));
    format!("{ticks}{lang}\n{code}\n{ticks}\n")
}

/// A name a field, placeholder or condition column can be: `[a-z_][a-z0-9_]*`.
fn is_word(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A value a `- field = value` bullet holds as it is.
fn is_plain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 200 && value.chars().all(|c| c.is_alphanumeric() || "_-.:@$#/+%".contains(c))
}

#[cfg(test)]
mod tests;
