//! What a model must answer, and reading it: a JSON object of root causes (the same
//! vocabulary as the specialists) and fix candidates shaped like a specialist's `## Fix:` —
//! statements with `:name` placeholders, the identifiers among them with their kinds, and the
//! values of the rest. Nothing here trusts the text: unknown fields are refused, sizes are
//! bounded, and every cause and candidate is checked one by one, so one bad candidate costs
//! only itself.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::RootCause;

/// At most this many causes and candidates are read from one answer.
pub const MAX_CAUSES: usize = 5;
pub const MAX_CANDIDATES: usize = 5;
/// Statements per candidate, each direction.
pub const MAX_STATEMENTS: usize = 5;
/// Characters in one statement, one summary or one `why`.
pub const MAX_TEXT: usize = 4000;

/// The JSON Schema of the answer, as the model is told it (and as OpenAI's and Gemini's JSON
/// modes are asked for it).
pub fn schema() -> serde_json::Value {
    let causes: Vec<&str> = RootCause::ALL.iter().map(|(name, _)| *name).collect();
    serde_json::json!({
        "type": "object",
        "properties": {
            "root_causes": {"type": "array", "items": {"type": "object", "properties": {
                "cause": {"type": "string", "enum": causes},
                "confidence": {"type": "number", "description": "0.0 to 1.0"},
                "summary": {"type": "string", "description": "the cause in one line, with the values that matter"},
                "evidence": {"type": "array", "items": {"type": "object", "properties": {
                    "tool": {"type": "string", "description": "a tool you called"},
                    "row": {"type": "object", "description": "the row of its result, column to value"},
                    "why": {"type": "string", "description": "which value mattered, and why"}
                }, "required": ["tool", "why"]}}
            }, "required": ["cause", "confidence", "summary"]}},
            "candidates": {"type": "array", "items": {"type": "object", "properties": {
                "title": {"type": "string"},
                "root_cause": {"type": "string", "enum": causes},
                "action_type": {"type": "string", "description": "a row of the Action Rules table"},
                "risk": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]},
                "impact": {"type": "string", "enum": ["none", "low", "medium", "high"]},
                "benefit": {"type": "number", "description": "0.0 to 1.0: how fully it treats the cause"},
                "forward": {"type": "array", "items": {"type": "string"}, "description": "one statement each, :name placeholders for every object and value"},
                "rollback": {"type": "array", "items": {"type": "string"}},
                "irreversible": {"type": "string", "description": "why it cannot be undone, when rollback is empty"},
                "identifiers": {"type": "object", "description": "placeholder to object kind (table, index, tablespace, …) for each object name"},
                "values": {"type": "object", "description": "placeholder to value, for every placeholder"},
                "why": {"type": "string"}
            }, "required": ["title", "root_cause", "action_type", "risk", "forward", "values", "why"]}}
        },
        "required": ["root_causes", "candidates"]
    })
}

/// The answer as written, before checking.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default)]
    pub root_causes: Vec<CauseAnswer>,
    #[serde(default)]
    pub candidates: Vec<CandidateAnswer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseAnswer {
    pub cause: String,
    pub confidence: f64,
    pub summary: String,
    #[serde(default)]
    pub evidence: Vec<EvidenceAnswer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceAnswer {
    pub tool: String,
    #[serde(default)]
    pub row: BTreeMap<String, serde_json::Value>,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateAnswer {
    pub title: String,
    pub root_cause: String,
    pub action_type: String,
    pub risk: String,
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default)]
    pub benefit: Option<f64>,
    pub forward: Vec<String>,
    #[serde(default)]
    pub rollback: Vec<String>,
    #[serde(default)]
    pub irreversible: Option<String>,
    #[serde(default)]
    pub identifiers: BTreeMap<String, String>,
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    pub why: String,
}

/// Reads the answer out of a model's text: a fenced ```json block, the whole text, or the
/// outermost `{…}` in it. The error says what was wrong, for the record.
pub fn read(text: &str) -> Result<Answer, String> {
    let mut last_error = String::from("no JSON object in the answer");
    for candidate in json_candidates(text) {
        match serde_json::from_str::<Answer>(candidate) {
            Ok(answer) => return bounded(answer),
            Err(error) => last_error = format!("the answer does not follow the schema: {error}"),
        }
    }
    Err(last_error)
}

pub(super) fn json_candidates(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    if let Some(start) = text.find("```json") {
        let body = &text[start + "```json".len()..];
        if let Some(end) = body.find("```") {
            found.push(body[..end].trim());
        }
    }
    found.push(text.trim());
    if let (Some(start), Some(end)) = (text.find('{'), text.rfind('}'))
        && start < end
    {
        found.push(&text[start..=end]);
    }
    found
}

fn bounded(mut answer: Answer) -> Result<Answer, String> {
    if answer.root_causes.len() > MAX_CAUSES * 4 || answer.candidates.len() > MAX_CANDIDATES * 4 {
        return Err(format!(
            "the answer has {} causes and {} candidates: far past the {MAX_CAUSES} and {MAX_CANDIDATES} asked for",
            answer.root_causes.len(),
            answer.candidates.len()
        ));
    }
    answer.root_causes.truncate(MAX_CAUSES);
    answer.candidates.truncate(MAX_CANDIDATES);
    Ok(answer)
}

/// A cause the model named, checked: a known code and a confidence in range.
pub fn cause(answer: &CauseAnswer) -> Result<(RootCause, f64), String> {
    let cause =
        RootCause::parse(&answer.cause).ok_or_else(|| format!("`{}` is not a root-cause code", answer.cause))?;
    if !(0.0..=1.0).contains(&answer.confidence) {
        return Err(format!("confidence {} is not between 0 and 1", answer.confidence));
    }
    if answer.summary.chars().count() > MAX_TEXT {
        return Err("the summary is too long".to_owned());
    }
    Ok((cause, answer.confidence))
}

/// A value as text for binding: strings as written, numbers and booleans as JSON writes them;
/// objects, arrays and NULL are refused.
pub fn value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_in_a_fence_in_prose_or_alone() {
        let json =
            r#"{"root_causes": [{"cause": "VACUUM", "confidence": 0.8, "summary": "dead tuples"}], "candidates": []}"#;
        assert_eq!(read(json).expect("alone").root_causes.len(), 1);
        assert_eq!(
            read(&format!("Here:\n```json\n{json}\n```\nDone.")).expect("fenced").root_causes[0].cause,
            "VACUUM"
        );
        assert_eq!(read(&format!("I think {json} is it.")).expect("in prose").root_causes.len(), 1);
    }

    #[test]
    fn malformed_and_unexpected_answers_are_errors_with_the_reason() {
        assert!(read("I cannot help with that.").is_err());
        let extra = r#"{"root_causes": [], "candidates": [], "execute_now": true}"#;
        assert!(read(extra).expect_err("unknown field").contains("execute_now"));
        let flood: Vec<String> =
            (0..50).map(|_| r#"{"cause":"VACUUM","confidence":0.5,"summary":"x"}"#.to_owned()).collect();
        let flood = format!(r#"{{"root_causes": [{}], "candidates": []}}"#, flood.join(","));
        assert!(read(&flood).is_err());
    }

    #[test]
    fn causes_are_codes_with_confidences_in_range() {
        let named = |cause: &str, confidence: f64| CauseAnswer {
            cause: cause.into(),
            confidence,
            summary: "s".into(),
            evidence: Vec::new(),
        };
        assert_eq!(cause(&named("lock_contention", 0.7)), Ok((RootCause::LockContention, 0.7)));
        assert!(cause(&named("SLOWNESS", 0.7)).is_err());
        assert!(cause(&named("VACUUM", 1.5)).is_err());
        assert_eq!(value_text(&serde_json::json!(42)).as_deref(), Some("42"));
        assert_eq!(value_text(&serde_json::json!({"a": 1})), None);
    }
}
