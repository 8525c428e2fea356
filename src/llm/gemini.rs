//! Google's Gemini API (`POST …/models/{model}:generateContent`), with function calling.
//!
//! A call is a `functionCall` part of a `model` turn; its answer a `functionResponse` part of
//! the next `user` turn, matched by name (and by `id` when the model gave one). A part may carry
//! a `thoughtSignature`, a sibling of `functionCall` or `text`: it must go back unchanged with
//! the turn, or the next request is refused.
//! Docs: <https://ai.google.dev/api/generate-content>,
//! <https://ai.google.dev/gemini-api/docs/thought-signatures>.

use serde_json::{Value, json};

use super::conversation::{Exchange, Part, Reply, Role, Stop, ToolCall, Turn, Usage};

/// Where the API lives when `llm.base_url` does not say otherwise.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

/// The prefix of the ids Sentri gives calls that came without one; never sent back.
const LOCAL_ID: &str = "sentri-call-";

/// The URL of a request for `model` under `base`.
pub fn endpoint(base: &str, model: &str) -> String {
    format!("{}/models/{model}:generateContent", base.trim_end_matches('/'))
}

/// The request body.
pub fn body(exchange: &Exchange, _model: &str) -> Value {
    let contents: Vec<Value> = exchange.turns.iter().map(content).collect();
    let mut config = json!({"temperature": exchange.temperature, "maxOutputTokens": exchange.max_tokens});
    // Gemini refuses a JSON response type together with function calling.
    if exchange.json && exchange.tools.is_empty() {
        config["responseMimeType"] = json!("application/json");
    }
    let mut body = json!({
        "systemInstruction": {"parts": [{"text": exchange.system}]},
        "contents": contents,
        "generationConfig": config,
    });
    if !exchange.tools.is_empty() {
        let declarations: Vec<Value> = exchange
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "parameters": tool.parameters}))
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    body
}

fn content(turn: &Turn) -> Value {
    let role = match turn.role {
        Role::User => "user",
        Role::Assistant => "model",
    };
    let parts: Vec<Value> = turn.parts.iter().map(part).collect();
    json!({"role": role, "parts": parts})
}

fn part(part: &Part) -> Value {
    let (mut value, signature) = match part {
        Part::Text { text, signature } => (json!({"text": text}), signature.as_ref()),
        Part::Call(call) => {
            let mut function = json!({"name": call.name, "args": call.arguments});
            if !call.id.starts_with(LOCAL_ID) {
                function["id"] = json!(call.id);
            }
            (json!({"functionCall": function}), call.signature.as_ref())
        }
        Part::Result(result) => {
            // `response` must be an object: the tool's JSON under `output`, or `error`.
            let response = if result.is_error {
                json!({"error": result.content})
            } else {
                let output = serde_json::from_str(&result.content).unwrap_or_else(|_| json!(result.content));
                json!({"output": output})
            };
            let mut function = json!({"name": result.name, "response": response});
            if !result.call_id.starts_with(LOCAL_ID) {
                function["id"] = json!(result.call_id);
            }
            (json!({"functionResponse": function}), None)
        }
    };
    if let Some(signature) = signature {
        value["thoughtSignature"] = json!(signature);
    }
    value
}

/// The reply in a response body, or what is wrong with it.
pub fn reply(body: &Value) -> Result<Reply, String> {
    let candidate = body["candidates"].get(0).ok_or_else(|| match body["promptFeedback"]["blockReason"].as_str() {
        Some(reason) => format!("the prompt was blocked ({reason})"),
        None => "no `candidates`".to_owned(),
    })?;
    let mut parts = Vec::new();
    for (index, raw) in candidate["content"]["parts"].as_array().into_iter().flatten().enumerate() {
        let signature = raw["thoughtSignature"].as_str().map(str::to_owned);
        if let Some(function) = raw.get("functionCall") {
            let name = function["name"].as_str().ok_or("a functionCall without `name`")?;
            let id = function["id"].as_str().map_or_else(|| format!("{LOCAL_ID}{index}"), str::to_owned);
            let arguments = function.get("args").cloned().unwrap_or_else(|| json!({}));
            parts.push(Part::Call(ToolCall { id, name: name.to_owned(), arguments, signature }));
        } else if raw["thought"].as_bool() == Some(true) {
            // A thought summary: not part of the answer.
        } else if let Some(text) = raw["text"].as_str() {
            parts.push(Part::Text { text: text.to_owned(), signature });
        }
    }
    let has_calls = parts.iter().any(|part| matches!(part, Part::Call(_)));
    let stop = match candidate["finishReason"].as_str() {
        _ if has_calls => Stop::ToolUse,
        Some("STOP") => Stop::Done,
        Some("MAX_TOKENS") => Stop::MaxTokens,
        _ => Stop::Other,
    };
    let usage = &body["usageMetadata"];
    let count = |field: &str| usage[field].as_u64().unwrap_or(0);
    // Thinking tokens are billed as output.
    let usage = Usage {
        input_tokens: count("promptTokenCount"),
        output_tokens: count("candidatesTokenCount") + count("thoughtsTokenCount"),
    };
    let model = body["modelVersion"].as_str().unwrap_or_default().to_owned();
    Ok(Reply { turn: Turn { role: Role::Assistant, parts }, usage, model, stop })
}

/// The message of an error body (`{"error":{"code","message","status"}}`).
pub fn error_message(body: &Value) -> Option<String> {
    let error = &body["error"];
    let message = error["message"].as_str()?;
    Some(match error["status"].as_str() {
        Some(status) => format!("{status}: {message}"),
        None => message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::conversation::{ToolResult, ToolSpec};

    #[test]
    fn a_thought_signature_goes_back_unchanged_beside_its_call() {
        let response = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "pg_blocking", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl/+=="}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 10, "thoughtsTokenCount": 50},
            "modelVersion": "gemini-2.5-flash"
        });
        let reply = reply(&response).expect("a valid reply");
        assert_eq!(reply.stop, Stop::ToolUse);
        assert_eq!(reply.usage, Usage { input_tokens: 200, output_tokens: 60 });
        let call = reply.turn.calls().next().expect("a call").clone();
        let result = Turn {
            role: Role::User,
            parts: vec![Part::Result(ToolResult {
                call_id: call.id.clone(),
                name: call.name.clone(),
                content: "{\"rows\": 0}".into(),
                is_error: false,
            })],
        };
        let exchange = Exchange {
            system: "DBA".into(),
            turns: vec![Turn::user("waiting"), reply.turn, result],
            tools: vec![ToolSpec {
                name: "pg_blocking".into(),
                description: "tree".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            max_tokens: 512,
            temperature: 0.3,
            json: true,
        };
        let body = body(&exchange, "gemini-2.5-flash");
        let sent = &body["contents"][1]["parts"][0];
        assert_eq!(sent["thoughtSignature"], "c2lnbmF0dXJl/+==");
        assert!(sent["functionCall"].get("id").is_none(), "an id Sentri made up is not sent");
        assert_eq!(body["contents"][1]["role"], "model");
        assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]["rows"], 0);
        assert!(body["generationConfig"].get("responseMimeType").is_none(), "no JSON mode with tools");
        assert_eq!(body["tools"][0]["functionDeclarations"][0]["name"], "pg_blocking");
    }

    #[test]
    fn a_blocked_prompt_is_malformed_with_its_reason() {
        let error = reply(&json!({"promptFeedback": {"blockReason": "SAFETY"}})).expect_err("no candidates");
        assert!(error.contains("SAFETY"), "{error}");
    }
}
