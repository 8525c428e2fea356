//! OpenAI's Chat Completions API (`POST …/chat/completions`), with tools; the same protocol
//! serves OpenAI-compatible local servers (Ollama, vLLM, llama.cpp's server).
//!
//! The assistant's calls are `tool_calls` with their arguments as a JSON *string*; each result
//! goes back as its own `role: "tool"` message with the call's `tool_call_id`.
//! Docs: <https://platform.openai.com/docs/api-reference/chat/create>.

use serde_json::{Value, json};

use super::conversation::{Exchange, Part, Reply, Role, Stop, ToolCall, Turn, Usage};

/// Where the API lives when `llm.base_url` does not say otherwise (it includes `/v1`, as a
/// local server's base URL does).
pub const DEFAULT_BASE: &str = "https://api.openai.com/v1";

/// Which server speaks the protocol: they differ in one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// OpenAI itself: `max_completion_tokens` (its newer models refuse `max_tokens`).
    OpenAi,
    /// A compatible server: `max_tokens`, which they all read.
    Compatible,
}

/// The URL of a completion request under `base`.
pub fn endpoint(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
}

/// The request body.
pub fn body(exchange: &Exchange, model: &str, flavour: Flavour) -> Value {
    let mut messages = vec![json!({"role": "system", "content": exchange.system})];
    for turn in &exchange.turns {
        messages.extend(turn_messages(turn));
    }
    let mut body = json!({"model": model, "messages": messages, "temperature": exchange.temperature});
    let limit = match flavour {
        Flavour::OpenAi => "max_completion_tokens",
        Flavour::Compatible => "max_tokens",
    };
    body[limit] = json!(exchange.max_tokens);
    if !exchange.tools.is_empty() {
        let tools: Vec<Value> = exchange
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description, "parameters": tool.parameters,
                }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if exchange.json {
        body["response_format"] = json!({"type": "json_object"});
    }
    body
}

fn turn_messages(turn: &Turn) -> Vec<Value> {
    match turn.role {
        Role::Assistant => {
            let calls: Vec<Value> = turn
                .calls()
                .map(|call| {
                    json!({"id": call.id, "type": "function", "function": {
                        "name": call.name, "arguments": call.arguments.to_string(),
                    }})
                })
                .collect();
            let text = turn.text();
            let mut message =
                json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            vec![message]
        }
        Role::User => {
            // Every tool message must follow the assistant message that called it, before
            // any user text.
            let mut messages: Vec<Value> = turn
                .parts
                .iter()
                .filter_map(|part| match part {
                    Part::Result(result) => {
                        Some(json!({"role": "tool", "tool_call_id": result.call_id, "content": result.content}))
                    }
                    _ => None,
                })
                .collect();
            let text = turn.text();
            if !text.is_empty() {
                messages.push(json!({"role": "user", "content": text}));
            }
            messages
        }
    }
}

/// The reply in a response body, or what is wrong with it.
pub fn reply(body: &Value) -> Result<Reply, String> {
    let choice = body["choices"].get(0).ok_or("no `choices`")?;
    let message = &choice["message"];
    if !message.is_object() {
        return Err("a choice without `message`".to_owned());
    }
    let mut parts = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|text| !text.is_empty()) {
        parts.push(Part::text(text));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let id = call["id"].as_str().ok_or("a tool call without `id`")?;
        let function = &call["function"];
        let name = function["name"].as_str().ok_or("a tool call without `function.name`")?;
        // The arguments are a JSON string; one that does not parse is kept as text, and
        // argument validation refuses it with the reason.
        let raw = function["arguments"].as_str().unwrap_or("{}");
        let arguments = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        parts.push(Part::Call(ToolCall { id: id.to_owned(), name: name.to_owned(), arguments, signature: None }));
    }
    let has_calls = parts.iter().any(|part| matches!(part, Part::Call(_)));
    let stop = match choice["finish_reason"].as_str() {
        _ if has_calls => Stop::ToolUse,
        Some("stop") => Stop::Done,
        Some("length") => Stop::MaxTokens,
        _ => Stop::Other,
    };
    let usage = &body["usage"];
    let usage = Usage {
        input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
    };
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    Ok(Reply { turn: Turn { role: Role::Assistant, parts }, usage, model, stop })
}

/// The message of an error body (`{"error":{"message","type","code"}}`).
pub fn error_message(body: &Value) -> Option<String> {
    let error = &body["error"];
    let message = error["message"].as_str()?;
    Some(match error["type"].as_str().or(error["code"].as_str()) {
        Some(kind) => format!("{kind}: {message}"),
        None => message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::conversation::{ToolResult, ToolSpec};

    fn exchange(json_mode: bool) -> Exchange {
        Exchange {
            system: "Answer in JSON.".into(),
            turns: vec![
                Turn::user("Sessions are waiting."),
                Turn {
                    role: Role::Assistant,
                    parts: vec![Part::Call(ToolCall {
                        id: "call_1".into(),
                        name: "pg_blocking".into(),
                        arguments: json!({}),
                        signature: None,
                    })],
                },
                Turn {
                    role: Role::User,
                    parts: vec![Part::Result(ToolResult {
                        call_id: "call_1".into(),
                        name: "pg_blocking".into(),
                        content: "[]".into(),
                        is_error: false,
                    })],
                },
            ],
            tools: vec![ToolSpec {
                name: "pg_blocking".into(),
                description: "Who blocks whom".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            max_tokens: 2048,
            temperature: 0.3,
            json: json_mode,
        }
    }

    #[test]
    fn calls_carry_string_arguments_and_results_are_tool_messages() {
        let body = body(&exchange(true), "gpt-4o", Flavour::OpenAi);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(body["messages"][3], json!({"role": "tool", "tool_call_id": "call_1", "content": "[]"}));
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["max_completion_tokens"], 2048);
        assert_eq!(body["response_format"]["type"], "json_object");
        let local = super::body(&exchange(false), "qwen3", Flavour::Compatible);
        assert_eq!(local["max_tokens"], 2048);
        assert!(local.get("response_format").is_none());
    }

    #[test]
    fn tool_calls_are_parsed_and_bad_arguments_kept_as_text() {
        let response = json!({
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "pg_locks", "arguments": "{\"pid\": 42}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "pg_locks", "arguments": "{pid"}}
                ]}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 25, "total_tokens": 325}
        });
        let reply = reply(&response).expect("a valid reply");
        assert_eq!(reply.stop, Stop::ToolUse);
        assert_eq!(reply.usage, Usage { input_tokens: 300, output_tokens: 25 });
        let calls: Vec<&ToolCall> = reply.turn.calls().collect();
        assert_eq!(calls[0].arguments, json!({"pid": 42}));
        assert_eq!(calls[1].arguments, json!("{pid"));
    }

    #[test]
    fn a_body_without_choices_is_malformed() {
        assert!(reply(&json!({"object": "chat.completion"})).is_err());
        let error =
            json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
        assert_eq!(error_message(&error).as_deref(), Some("requests: Rate limit reached"));
    }
}
