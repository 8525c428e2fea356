//! Anthropic's Messages API (`POST /v1/messages`), with tool use.
//!
//! Tool calls are `tool_use` content blocks of the assistant; their results go back as
//! `tool_result` blocks, first in the next user message, with the call's `tool_use_id`.
//! Docs: <https://docs.anthropic.com/en/api/messages>.

use serde_json::{Value, json};

use super::conversation::{Exchange, Part, Reply, Role, Stop, ToolCall, Turn, Usage};

/// The API version Sentri speaks (the `anthropic-version` header).
pub const API_VERSION: &str = "2023-06-01";

/// Where the API lives when `llm.base_url` does not say otherwise.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";

/// The URL of a Messages request under `base`.
pub fn endpoint(base: &str) -> String {
    format!("{}/v1/messages", base.trim_end_matches('/'))
}

/// The request body.
pub fn body(exchange: &Exchange, model: &str) -> Value {
    let messages: Vec<Value> = exchange.turns.iter().map(message).collect();
    let mut body = json!({
        "model": model,
        "max_tokens": exchange.max_tokens,
        "temperature": exchange.temperature,
        "system": exchange.system,
        "messages": messages,
    });
    if !exchange.tools.is_empty() {
        let tools: Vec<Value> = exchange
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.parameters}))
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn message(turn: &Turn) -> Value {
    let role = match turn.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    // Tool results must lead a user message.
    let mut parts: Vec<&Part> = turn.parts.iter().collect();
    parts.sort_by_key(|part| !matches!(part, Part::Result(_)));
    let content: Vec<Value> = parts
        .into_iter()
        .map(|part| match part {
            Part::Text { text, .. } => json!({"type": "text", "text": text}),
            Part::Call(call) => json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}),
            Part::Result(result) => json!({
                "type": "tool_result",
                "tool_use_id": result.call_id,
                "content": result.content,
                "is_error": result.is_error,
            }),
        })
        .collect();
    json!({"role": role, "content": content})
}

/// The reply in a response body, or what is wrong with it.
pub fn reply(body: &Value) -> Result<Reply, String> {
    let content = body["content"].as_array().ok_or("no `content` array")?;
    let mut parts = Vec::new();
    for block in content {
        match block["type"].as_str() {
            Some("text") => {
                let text = block["text"].as_str().ok_or("a text block without `text`")?;
                parts.push(Part::text(text));
            }
            Some("tool_use") => {
                let id = block["id"].as_str().ok_or("a tool_use block without `id`")?;
                let name = block["name"].as_str().ok_or("a tool_use block without `name`")?;
                parts.push(Part::Call(ToolCall {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    arguments: block["input"].clone(),
                    signature: None,
                }));
            }
            // Thinking and server-tool blocks are not asked for; nothing to keep.
            _ => {}
        }
    }
    let stop = match body["stop_reason"].as_str() {
        Some("end_turn" | "stop_sequence") => Stop::Done,
        Some("tool_use") => Stop::ToolUse,
        Some("max_tokens") => Stop::MaxTokens,
        _ => Stop::Other,
    };
    let usage = &body["usage"];
    let count = |field: &str| usage[field].as_u64().unwrap_or(0);
    let usage = Usage {
        input_tokens: count("input_tokens") + count("cache_creation_input_tokens") + count("cache_read_input_tokens"),
        output_tokens: count("output_tokens"),
    };
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    Ok(Reply { turn: Turn { role: Role::Assistant, parts }, usage, model, stop })
}

/// The message of an error body (`{"type":"error","error":{"type","message"}}`).
pub fn error_message(body: &Value) -> Option<String> {
    let error = &body["error"];
    let message = error["message"].as_str()?;
    Some(match error["type"].as_str() {
        Some(kind) => format!("{kind}: {message}"),
        None => message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::conversation::{ToolResult, ToolSpec};

    fn exchange() -> Exchange {
        Exchange {
            system: "You are a DBA.".into(),
            turns: vec![
                Turn::user("Tablespace USERS is 97 % full."),
                Turn {
                    role: Role::Assistant,
                    parts: vec![
                        Part::text("Looking."),
                        Part::Call(ToolCall {
                            id: "toolu_1".into(),
                            name: "ora_storage".into(),
                            arguments: json!({"tablespace_name": "USERS"}),
                            signature: None,
                        }),
                    ],
                },
                Turn {
                    role: Role::User,
                    parts: vec![
                        Part::text("Go on."),
                        Part::Result(ToolResult {
                            call_id: "toolu_1".into(),
                            name: "ora_storage".into(),
                            content: "{\"rows\":[]}".into(),
                            is_error: false,
                        }),
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "ora_storage".into(),
                description: "Storage".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            max_tokens: 1024,
            temperature: 0.3,
            json: false,
        }
    }

    #[test]
    fn tools_calls_and_results_take_the_messages_api_shape() {
        let body = body(&exchange(), "claude-sonnet-4-5");
        assert_eq!(body["system"], "You are a DBA.");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");
        assert_eq!(body["messages"][1]["content"][1]["input"]["tablespace_name"], "USERS");
        let results = &body["messages"][2]["content"];
        assert_eq!(results[0]["type"], "tool_result", "a tool_result leads its user message");
        assert_eq!(results[0]["tool_use_id"], "toolu_1");
        assert_eq!(results[1]["type"], "text");
    }

    #[test]
    fn a_tool_use_response_gives_calls_and_usage() {
        let response = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "text", "text": "I will look."},
                {"type": "tool_use", "id": "toolu_9", "name": "ora_storage", "input": {"tablespace_name": "USERS"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 120, "cache_read_input_tokens": 30, "output_tokens": 40}
        });
        let reply = reply(&response).expect("a valid reply");
        assert_eq!(reply.stop, Stop::ToolUse);
        assert_eq!(reply.usage, Usage { input_tokens: 150, output_tokens: 40 });
        let call = reply.turn.calls().next().expect("one call");
        assert_eq!((call.id.as_str(), call.name.as_str()), ("toolu_9", "ora_storage"));
        assert_eq!(reply.turn.text(), "I will look.");
    }

    #[test]
    fn a_body_without_content_is_malformed() {
        assert!(reply(&json!({"type": "message"})).is_err());
        let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(error_message(&error).as_deref(), Some("overloaded_error: Overloaded"));
    }
}
