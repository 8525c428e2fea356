//! The review of the policies Sentri learned (`alerts/learned/*.md`): where each came from, who
//! approved it, whether it passes the policy check in the pack as loaded, and its text as a
//! unified diff against the copy a DBA kept (or nothing). `sentri policy learned` prints it; the
//! console shows it (`L`).

use std::path::{Path, PathBuf};

use crate::pipeline::samples;
use crate::policy::{Level, PolicySet, learned};

/// One learned policy file under review.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LearnedReview {
    pub file: String,
    pub alert_type: String,
    pub learned_from: Option<String>,
    pub approved_by: Vec<String>,
    pub passes: bool,
    /// Why it does not pass, one line each; empty when it passes.
    pub problems: Vec<String>,
    /// The earlier version the diff is taken against, when there is one.
    pub backup: Option<String>,
    pub diff: String,
}

/// Every learned policy under `root` (a home or a policy folder), reviewed as the engine would
/// load the pack: a learned file skipped as a duplicate, or whose sample another policy takes,
/// fails here even when it is fine on its own. Sorted by file name.
pub fn review(root: &Path) -> std::io::Result<Vec<LearnedReview>> {
    let folder = root.join("alerts").join(learned::FOLDER);
    let files = learned_files(&folder)?;
    let set = PolicySet::load(root);
    let sample_report = if files.is_empty() { samples::SampleReport::default() } else { samples::run_all(&set) };
    let relative = |path: &Path| path.strip_prefix(root).unwrap_or(path).display().to_string();

    let mut reviews = Vec::new();
    for path in &files {
        let alert_type = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                reviews.push(LearnedReview {
                    file: relative(path),
                    alert_type,
                    learned_from: None,
                    approved_by: Vec::new(),
                    passes: false,
                    problems: vec![format!("cannot read: {error}")],
                    backup: None,
                    diff: String::new(),
                });
                continue;
            }
        };
        let provenance = learned::provenance(&text);
        let mut problems = learned::check_text(path, &text).err().unwrap_or_default();
        let in_pack: Vec<String> = set
            .problems
            .iter()
            .chain(&sample_report.problems)
            .filter(|problem| problem.level == Level::Error && problem.path == *path)
            .map(|problem| format!("line {}: {}", problem.line, problem.message))
            .collect();
        for line in in_pack {
            // The file's own check already said it, named by its field (`email_pattern, line 3: …`).
            if !problems.iter().any(|known| known.ends_with(&line)) {
                problems.push(line);
            }
        }
        for result in sample_report.results.iter().filter(|result| result.path == *path && !result.passed) {
            problems.extend(result.failures.iter().map(|failure| format!("sample at line {}: {failure}", result.line)));
        }
        let backup = backup_of(root, path);
        let old = backup.as_ref().and_then(|backup| std::fs::read_to_string(backup).ok()).unwrap_or_default();
        let old_name = backup.as_deref().map_or_else(|| "/dev/null".to_owned(), relative);
        let diff = similar::TextDiff::from_lines(&old, &text)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &relative(path))
            .to_string();
        reviews.push(LearnedReview {
            file: relative(path),
            alert_type,
            learned_from: provenance.as_ref().map(|learned| learned.workflow.to_string()),
            approved_by: provenance.map(|learned| learned.approved_by).unwrap_or_default(),
            passes: problems.is_empty(),
            problems,
            backup: backup.as_deref().map(relative),
            diff,
        });
    }

    Ok(reviews)
}

/// `alerts/learned/*.md`, sorted; hidden files (a write in progress) and README.md are not policies.
fn learned_files(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().map(|name| name.to_string_lossy().to_lowercase()).unwrap_or_default();
            !name.starts_with('.') && name.ends_with(".md") && name != "readme.md" && path.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The earlier version a DBA kept of a learned file, if any.
fn backup_of(root: &Path, path: &Path) -> Option<PathBuf> {
    let file = path.file_name()?;
    let backups = root.join("alerts").join(".backup");
    [backups.join(learned::FOLDER).join(file), backups.join(file)].into_iter().find(|candidate| candidate.is_file())
}
