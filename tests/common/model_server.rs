//! A local HTTP/1.1 server standing in for the paid LLM APIs (Anthropic, OpenAI, Gemini, and
//! the OpenAI-compatible local servers): it answers each request with the next reply of a
//! script and records what it received, so a test asserts on what Sentri *sent*. Bound to a
//! free loopback port, one connection per request, stopped when dropped.
//!
//! The submodules build response bodies in each vendor's documented wire format, so the
//! decoding a test exercises is the decoding production exercises.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub use super::http::Request;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Answer with this status and JSON body (Content-Type: application/json), and a
    /// `Retry-After` header of that many seconds when given.
    Json { status: u16, body: Value, retry_after: Option<u64> },
    /// Answer with this status and a raw body (to test non-JSON bodies).
    Raw { status: u16, body: String },
    /// Wait this long, then answer as the inner one (a slow model).
    Delayed(Duration, Box<Scripted>),
}

impl Scripted {
    /// A 200 with this JSON body.
    pub fn ok(body: Value) -> Scripted {
        Scripted::Json { status: 200, body, retry_after: None }
    }

    /// `code` with a JSON error body every provider's decoder reads (`error.message`, with
    /// `type` and `status` beside it).
    pub fn status(code: u16) -> Scripted {
        let body = json!({
            "type": "error",
            "error": {"type": "scripted_error", "status": "SCRIPTED", "message": format!("scripted HTTP {code}")},
        });
        Scripted::Json { status: code, body, retry_after: None }
    }

    /// This reply with a `Retry-After` of `seconds` (JSON replies only).
    pub fn retry_after(self, seconds: u64) -> Scripted {
        match self {
            Scripted::Json { status, body, .. } => Scripted::Json { status, body, retry_after: Some(seconds) },
            other => other,
        }
    }

    /// This reply after `delay`.
    pub fn delayed(self, delay: Duration) -> Scripted {
        Scripted::Delayed(delay, Box::new(self))
    }
}

/// The scripted server; stops when dropped.
pub struct ModelServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<Scripted>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ModelServer {
    pub async fn start() -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let (seen, replies) = (Arc::clone(&requests), Arc::clone(&script));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, replies) = (Arc::clone(&seen), Arc::clone(&replies));
                tokio::spawn(async move {
                    // A client that gave up (a timeout) closes its end: nothing to report.
                    let _ = serve(stream, seen, replies).await;
                });
            }
        });
        ModelServer { base, requests, script, task }
    }

    /// Appends `reply` to the script; replies are given in order, one per request.
    pub fn push(&self, reply: Scripted) {
        self.script.lock().unwrap().push_back(reply);
    }

    /// Appends every reply of `replies`, in order.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Scripted>) {
        self.script.lock().unwrap().extend(replies);
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What is answered once the script is empty: a visible failure, not a silent success.
fn exhausted() -> Scripted {
    let body = json!({
        "type": "error",
        "error": {
            "type": "script_exhausted",
            "status": "SCRIPT_EXHAUSTED",
            "message": "script exhausted: the test made more requests than it scripted",
        },
    });
    Scripted::Json { status: 500, body, retry_after: None }
}

async fn serve(
    stream: TcpStream,
    seen: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<Scripted>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(());
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    // Record and take the reply under one order: the nth request gets the nth reply.
    let mut reply = {
        let mut script = script.lock().unwrap();
        seen.lock().unwrap().push(Request { method, path, headers, body });
        script.pop_front().unwrap_or_else(exhausted)
    };
    while let Scripted::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    let (status, content_type, text, retry_after) = match reply {
        Scripted::Json { status, body, retry_after } => (status, "application/json", body.to_string(), retry_after),
        Scripted::Raw { status, body } => (status, "text/plain; charset=utf-8", body, None),
        Scripted::Delayed(..) => unreachable!("delays are unwrapped above"),
    };
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Scripted");
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    if let Some(seconds) = retry_after {
        response.push_str(&format!("Retry-After: {seconds}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&text);
    let mut stream = reader.into_inner();
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Anthropic Messages responses (`POST /v1/messages`), as
/// <https://docs.anthropic.com/en/api/messages> documents them.
pub mod anthropic {
    use serde_json::{Value, json};

    /// The model the responses name.
    pub const MODEL: &str = "claude-sonnet-4-5-20250929";

    fn message(content: Vec<Value>, stop_reason: &str) -> Value {
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
            },
        })
    }

    /// A final answer: one text block, `stop_reason: "end_turn"`.
    pub fn text(answer: &str) -> Value {
        message(vec![json!({"type": "text", "text": answer})], "end_turn")
    }

    /// Tool calls: one `tool_use` block per `(id, name, input)`, `stop_reason: "tool_use"`.
    pub fn tool_use(calls: &[(&str, &str, Value)]) -> Value {
        let content = calls
            .iter()
            .map(|(id, name, input)| json!({"type": "tool_use", "id": id, "name": name, "input": input}))
            .collect();
        message(content, "tool_use")
    }

    /// `body` with these token counts in its `usage`.
    pub fn usage(mut body: Value, input_tokens: u64, output_tokens: u64) -> Value {
        body["usage"]["input_tokens"] = json!(input_tokens);
        body["usage"]["output_tokens"] = json!(output_tokens);
        body
    }

    /// An error body: `{"type":"error","error":{"type","message"},"request_id"}`.
    pub fn error(kind: &str, message: &str) -> Value {
        json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        })
    }
}

/// OpenAI Chat Completions responses (`POST …/chat/completions`), as
/// <https://platform.openai.com/docs/api-reference/chat/object> documents them; local
/// OpenAI-compatible servers answer in the same shape.
pub mod openai {
    use serde_json::{Value, json};

    /// The model the responses name.
    pub const MODEL: &str = "gpt-4o-2024-08-06";

    fn completion(message: Value, finish_reason: &str) -> Value {
        json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": 1_741_569_952,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "usage": {
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fc9f1d7035",
        })
    }

    /// A final answer: `message.content` is the text, `finish_reason: "stop"`.
    pub fn text(answer: &str) -> Value {
        completion(json!({"role": "assistant", "content": answer, "refusal": null, "annotations": []}), "stop")
    }

    /// Tool calls: one `tool_calls` entry per `(id, name, arguments)`, the arguments as a
    /// JSON *string*; `content: null`, `finish_reason: "tool_calls"`.
    pub fn tool_calls(calls: &[(&str, &str, Value)]) -> Value {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}})
            })
            .collect();
        completion(
            json!({"role": "assistant", "content": null, "tool_calls": calls, "refusal": null, "annotations": []}),
            "tool_calls",
        )
    }

    /// `body` with these token counts in its `usage`.
    pub fn usage(mut body: Value, prompt_tokens: u64, completion_tokens: u64) -> Value {
        body["usage"]["prompt_tokens"] = json!(prompt_tokens);
        body["usage"]["completion_tokens"] = json!(completion_tokens);
        body["usage"]["total_tokens"] = json!(prompt_tokens + completion_tokens);
        body
    }

    /// An error body: `{"error":{"message","type","param","code"}}`.
    pub fn error(kind: &str, code: &str, message: &str) -> Value {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }
}

/// Gemini `generateContent` responses, as <https://ai.google.dev/api/generate-content>
/// documents them (a `thoughtSignature` is a sibling of the part it signs:
/// <https://ai.google.dev/gemini-api/docs/thought-signatures>).
pub mod gemini {
    use serde_json::{Value, json};

    /// The model the responses name.
    pub const MODEL: &str = "gemini-2.5-flash";

    fn response(parts: Vec<Value>) -> Value {
        json!({
            "candidates": [{
                "content": {"parts": parts, "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": 0,
                "candidatesTokenCount": 0,
                "totalTokenCount": 0,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 0}],
            },
            "modelVersion": MODEL,
            "responseId": "mNu3aPz2GvOmz7IP8qfB0Qw",
        })
    }

    /// A final answer: one text part, `finishReason: "STOP"`.
    pub fn text(answer: &str) -> Value {
        response(vec![json!({"text": answer})])
    }

    /// Function calls: one `functionCall` part per `(name, args, signature)`, the signature
    /// (when given) as the part's `thoughtSignature`. Gemini ends these with `STOP` too.
    pub fn function_calls(calls: &[(&str, Value, Option<&str>)]) -> Value {
        let parts = calls
            .iter()
            .map(|(name, args, signature)| {
                let mut part = json!({"functionCall": {"name": name, "args": args}});
                if let Some(signature) = signature {
                    part["thoughtSignature"] = json!(signature);
                }
                part
            })
            .collect();
        response(parts)
    }

    /// `body` with these token counts in its `usageMetadata` (`thoughts` as
    /// `thoughtsTokenCount`, present only when not zero, as Gemini sends it).
    pub fn usage(mut body: Value, prompt: u64, candidates: u64, thoughts: u64) -> Value {
        let usage = &mut body["usageMetadata"];
        usage["promptTokenCount"] = json!(prompt);
        usage["candidatesTokenCount"] = json!(candidates);
        usage["totalTokenCount"] = json!(prompt + candidates + thoughts);
        usage["promptTokensDetails"] = json!([{"modality": "TEXT", "tokenCount": prompt}]);
        if thoughts > 0 {
            usage["thoughtsTokenCount"] = json!(thoughts);
        }
        body
    }

    /// An error body: `{"error":{"code","message","status"}}`.
    pub fn error(code: u16, status: &str, message: &str) -> Value {
        json!({"error": {"code": code, "message": message, "status": status}})
    }
}
