//! The investigation tools as a model sees them: each tool file becomes a function with a JSON
//! Schema of its typed arguments, and each call the model makes is run through the same
//! runner as `sentri investigate` — arguments checked by kind, objects resolved in the
//! dictionary, values bound, the read-only path, the tool's row cap and time limit. There is no
//! write tool to offer: the runner cannot write.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::answer;
use crate::diagnose::tools::{self, ToolContext, ToolResult};
use crate::llm::conversation::{self, ToolCall, ToolSpec};
use crate::policy::tool::{ArgumentKind, ToolPolicy};
use crate::targets::Target;

/// A tool result is cut to this many bytes of JSON before it goes to the model.
pub const RESULT_CAP: usize = 16 * 1024;

/// The function a model is offered for `tool`.
pub fn spec(tool: &ToolPolicy) -> ToolSpec {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for argument in &tool.arguments {
        let mut property = match &argument.kind {
            ArgumentKind::Integer => json!({"type": "integer"}),
            ArgumentKind::Number => json!({"type": "number"}),
            ArgumentKind::Boolean => json!({"type": "boolean"}),
            ArgumentKind::Choice(choices) => json!({"type": "string", "enum": choices}),
            ArgumentKind::Text | ArgumentKind::Statement | ArgumentKind::Object(_) => json!({"type": "string"}),
        };
        let mut description = format!("{} ({})", argument.description, argument.kind.describe());
        if let Some(default) = &argument.default {
            description.push_str(&format!("; default {default}"));
        }
        property["description"] = json!(description.trim());
        properties.insert(argument.name.clone(), property);
        if argument.required && argument.default.is_none() {
            required.push(argument.name.clone());
        }
    }
    ToolSpec {
        name: tool.name.clone(),
        description: tool.description.clone(),
        parameters: json!({"type": "object", "properties": properties, "required": required}),
    }
}

/// What one call gave: the result for the model, and the run for the record.
pub struct Ran {
    pub result: conversation::ToolResult,
    pub run: Option<ToolResult>,
}

/// Runs `call` on `target` with the tool of that name among `offered`. A call for a tool not
/// offered, or with arguments that are not what the tool takes, is answered with the error, so
/// the model can correct itself; nothing reaches the database.
pub async fn run(target: &Target, offered: &[&ToolPolicy], call: &ToolCall, context: &ToolContext) -> Ran {
    let answer = |content: String, is_error: bool, run: Option<ToolResult>| Ran {
        result: conversation::ToolResult { call_id: call.id.clone(), name: call.name.clone(), content, is_error },
        run,
    };
    let Some(tool) = offered.iter().find(|tool| tool.name == call.name) else {
        let names: Vec<&str> = offered.iter().map(|tool| tool.name.as_str()).collect();
        return answer(format!("there is no tool `{}`; the tools are: {}", call.name, names.join(", ")), true, None);
    };
    let arguments = match arguments(&call.arguments) {
        Ok(arguments) => arguments,
        Err(reason) => return answer(reason, true, None),
    };
    match tools::run(target, tool, &arguments, context).await {
        Ok(result) => answer(render(&result), result.skipped.is_some(), Some(result)),
        Err(error) => answer(error.to_string(), true, None),
    }
}

/// The call's arguments as the runner takes them: a JSON object of strings, numbers and
/// booleans.
fn arguments(given: &Value) -> Result<BTreeMap<String, String>, String> {
    let Some(object) = given.as_object() else {
        return Err(format!("the arguments must be a JSON object, not {given}"));
    };
    object
        .iter()
        .map(|(name, value)| {
            answer::value_text(value)
                .map(|text| (name.clone(), text))
                .ok_or_else(|| format!("argument `{name}` must be a string, number or boolean"))
        })
        .collect()
}

/// The result as JSON for the model, cut to [`RESULT_CAP`] by dropping rows from the end (the
/// cut is said in the result).
pub fn render(result: &ToolResult) -> String {
    let mut shown = result.clone();
    loop {
        let text = serde_json::to_string(&json!({
            "tool": shown.tool,
            "arguments": shown.arguments,
            "skipped": shown.skipped,
            "queries": shown.queries.iter().map(|query| json!({
                "name": query.name,
                "columns": query.columns,
                "rows": query.rows,
                "truncated": query.truncated,
                "error": query.error,
            })).collect::<Vec<_>>(),
        }))
        .unwrap_or_default();
        if text.len() <= RESULT_CAP {
            return text;
        }
        let Some(longest) =
            shown.queries.iter_mut().filter(|query| !query.rows.is_empty()).max_by_key(|query| query.rows.len())
        else {
            return text.chars().take(RESULT_CAP).collect();
        };
        let keep = longest.rows.len() / 2;
        longest.rows.truncate(keep);
        longest.truncated = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tools::QueryResult;
    use crate::targets::Value as Cell;

    #[test]
    fn arguments_become_a_json_schema_with_kinds_and_required_names() {
        let tool = crate::policy::tool::ToolPolicy {
            name: "pg_table_stats".into(),
            path: "tools/postgres/pg_table_stats.md".into(),
            engine: crate::domain::DbKind::Postgres,
            description: "Scans and dead tuples per table".into(),
            arguments: vec![
                crate::policy::tool::ToolArgument {
                    name: "table".into(),
                    kind: ArgumentKind::Object(crate::domain::IdentifierKind::Table),
                    required: true,
                    default: None,
                    description: "the table".into(),
                },
                crate::policy::tool::ToolArgument {
                    name: "limit".into(),
                    kind: ArgumentKind::Integer,
                    required: false,
                    default: Some("20".into()),
                    description: "rows".into(),
                },
            ],
            queries: Vec::new(),
            row_cap: 100,
            time_limit: std::time::Duration::from_secs(5),
            requires: Vec::new(),
            not_on: Vec::new(),
        };
        let spec = spec(&tool);
        assert_eq!(spec.parameters["properties"]["table"]["type"], "string");
        assert_eq!(spec.parameters["properties"]["limit"]["type"], "integer");
        assert_eq!(spec.parameters["required"], json!(["table"]));
        assert!(arguments(&json!({"table": "orders", "limit": 5})).is_ok());
        assert!(arguments(&json!("orders")).is_err());
        assert!(arguments(&json!({"table": ["a"]})).is_err());
    }

    #[test]
    fn a_large_result_is_cut_under_the_cap_and_says_so() {
        let rows: Vec<Vec<Cell>> =
            (0..5000).map(|i| vec![Cell::Text(format!("row number {i} with some text"))]).collect();
        let result = ToolResult {
            tool: "pg_activity".into(),
            database: "app".into(),
            arguments: BTreeMap::new(),
            queries: vec![QueryResult {
                name: "sessions".into(),
                columns: vec!["query".into()],
                rows,
                truncated: false,
                ms: 3,
                error: None,
            }],
            elapsed_ms: 3,
            skipped: None,
        };
        let text = render(&result);
        assert!(text.len() <= RESULT_CAP, "{}", text.len());
        let parsed: Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(parsed["queries"][0]["truncated"], true);
    }
}
