//! The three wire formats Sentri speaks to language models (Anthropic Messages, OpenAI Chat
//! Completions and its compatible local servers, Gemini `generateContent`), through
//! `Model::send` against a scripted local server: what Sentri sends (path, key headers, tool
//! schemas, tool results threaded back by id, Gemini's thought signatures), what it reads
//! (usage, calls), and how it fails (retries on 429 and 5xx within the deadline, none on 400,
//! a slow model, malformed bodies, the vendor's error message). No paid API is ever called.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sentri::config::{ApiKeys, LlmConfig, LlmProvider, Secret};
use sentri::llm::LlmError;
use sentri::llm::client::{Answered, Model};
use sentri::llm::conversation::{Exchange, Part, Reply, Role, Stop, ToolCall, ToolResult, ToolSpec, Turn, Usage};

use common::model_server::{self, ModelServer, Request, Scripted};

/// Every test finishes within this, whatever the client does.
const BOUND: Duration = Duration::from_secs(20);
const KEY: &str = "sk-test-0123456789";

/// Runs `test` and fails it if it takes longer than [`BOUND`] (a hang is a failure, not a
/// stuck suite).
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, test).await.expect("the test finished within its bound")
}

/// A configuration for `provider` whose every request goes to `base`.
fn config(provider: LlmProvider, model: &str, base: &str, key: Option<&str>) -> LlmConfig {
    let key = key.map(Secret::new);
    let api_keys = match provider {
        LlmProvider::Claude => ApiKeys { claude: key, ..ApiKeys::default() },
        LlmProvider::OpenAi => ApiKeys { openai: key, ..ApiKeys::default() },
        LlmProvider::Gemini => ApiKeys { gemini: key, ..ApiKeys::default() },
        LlmProvider::Local | LlmProvider::None => ApiKeys { local: key, ..ApiKeys::default() },
    };
    LlmConfig {
        provider,
        model: Some(model.to_owned()),
        base_url: Some(base.to_owned()),
        timeout: Duration::from_secs(5),
        api_keys,
        ..LlmConfig::default()
    }
}

fn model(provider: LlmProvider, model_name: &str, base: &str) -> Model {
    let key = (provider != LlmProvider::Local).then_some(KEY);
    Model::new(&config(provider, model_name, base, key), provider).expect("a configured model")
}

fn storage_tool() -> ToolSpec {
    ToolSpec {
        name: "ora_storage".into(),
        description: "Tablespace usage".into(),
        parameters: json!({
            "type": "object",
            "properties": {"tablespace_name": {"type": "string", "description": "The tablespace"}},
            "required": ["tablespace_name"],
        }),
    }
}

fn exchange() -> Exchange {
    Exchange {
        system: "You are a careful DBA.".into(),
        turns: vec![Turn::user("Tablespace USERS is 97 % full.")],
        tools: vec![storage_tool()],
        max_tokens: 1024,
        temperature: 0.2,
        json: false,
    }
}

fn within(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

async fn send(model: &Model, exchange: &Exchange, seconds: u64) -> Result<Answered, LlmError> {
    model.send(exchange, within(seconds)).await
}

/// The one call in `reply`.
fn only_call(reply: &Reply) -> ToolCall {
    let calls: Vec<&ToolCall> = reply.turn.calls().collect();
    assert_eq!(calls.len(), 1, "one call in {:?}", reply.turn);
    calls[0].clone()
}

/// `exchange` continued with the model's `reply` and a user turn answering `call`.
fn answered(mut exchange: Exchange, reply: Reply, call: &ToolCall) -> Exchange {
    exchange.turns.push(reply.turn);
    exchange.turns.push(Turn {
        role: Role::User,
        parts: vec![Part::Result(ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: r#"{"used_pct": 97.2}"#.into(),
            is_error: false,
        })],
    });
    exchange
}

fn sha256(request: &Request) -> String {
    hex::encode(Sha256::digest(&request.body))
}

fn the_only(requests: &[Request]) -> &Request {
    assert_eq!(requests.len(), 1, "one request: {requests:?}");
    &requests[0]
}

// ---- Anthropic -------------------------------------------------------------------------

#[tokio::test]
async fn claude_posts_messages_with_its_key_version_and_input_schema() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::anthropic::usage(model_server::anthropic::text("Grow it."), 321, 45)));
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        let answered = send(&model, &exchange(), 5).await.expect("an answer");

        let requests = server.requests();
        let sent = the_only(&requests);
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
        assert_eq!(sent.header("x-api-key"), Some(KEY));
        assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(sent.header("authorization"), None, "Anthropic takes no bearer token");
        assert_eq!(sent.header("content-type"), Some("application/json"));
        let body = sent.json();
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["system"], "You are a careful DBA.");
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "Tablespace USERS is 97 % full."}]}]));
        assert_eq!(
            body["tools"],
            json!([{"name": "ora_storage", "description": "Tablespace usage", "input_schema": storage_tool().parameters}])
        );

        assert_eq!(answered.attempts, 1);
        assert_eq!(answered.prompt_sha256, sha256(sent), "the audit hash is of the bytes sent");
        let reply = answered.reply;
        assert_eq!(reply.usage, Usage { input_tokens: 321, output_tokens: 45 });
        assert_eq!(reply.model, model_server::anthropic::MODEL);
        assert_eq!(reply.stop, Stop::Done);
        assert_eq!(reply.turn.text(), "Grow it.");
    })
    .await;
}

#[tokio::test]
async fn claude_threads_a_tool_result_back_by_its_tool_use_id() {
    bounded(async {
        let server = ModelServer::start().await;
        let input = json!({"tablespace_name": "USERS"});
        let mut first = model_server::anthropic::tool_use(&[("toolu_01A09q90qw90lq917835lq9", "ora_storage", input.clone())]);
        // Cache reads are input tokens too.
        first["usage"] = json!({"input_tokens": 100, "cache_creation_input_tokens": 7, "cache_read_input_tokens": 50, "output_tokens": 30});
        server.push_all([Scripted::ok(first), Scripted::ok(model_server::anthropic::text("USERS needs a datafile."))]);
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);

        let first = send(&model, &exchange(), 5).await.expect("a first answer").reply;
        assert_eq!(first.stop, Stop::ToolUse);
        assert_eq!(first.usage, Usage { input_tokens: 157, output_tokens: 30 });
        let call = only_call(&first);
        assert_eq!((call.id.as_str(), call.name.as_str()), ("toolu_01A09q90qw90lq917835lq9", "ora_storage"));
        assert_eq!(call.arguments, input);
        let second = answered(exchange(), first, &call);
        let reply = send(&model, &second, 5).await.expect("a second answer").reply;
        assert_eq!(reply.turn.text(), "USERS needs a datafile.");

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let messages = &requests[1].json()["messages"];
        assert_eq!(messages[1]["role"], "assistant");
        assert_eq!(
            messages[1]["content"],
            json!([{"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "ora_storage", "input": input}])
        );
        assert_eq!(messages[2]["role"], "user");
        let result = &messages[2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert_eq!(result["tool_use_id"], "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(result["content"], r#"{"used_pct": 97.2}"#);
        assert_eq!(result["is_error"], false);
    })
    .await;
}

// ---- OpenAI and compatible servers -----------------------------------------------------

#[tokio::test]
async fn openai_posts_chat_completions_under_the_base_with_a_bearer_and_function_tools() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::openai::usage(model_server::openai::text("Grow it."), 410, 52)));
        let base = format!("{}/v1", server.base);
        let model = model(LlmProvider::OpenAi, "gpt-4o", &base);
        let answered = send(&model, &exchange(), 5).await.expect("an answer");

        let requests = server.requests();
        let sent = the_only(&requests);
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/chat/completions"));
        assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        assert_eq!(sent.header("x-api-key"), None);
        let body = sent.json();
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "You are a careful DBA."}));
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "Tablespace USERS is 97 % full."}));
        assert_eq!(body["max_completion_tokens"], 1024);
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "function": {
                "name": "ora_storage", "description": "Tablespace usage", "parameters": storage_tool().parameters,
            }}])
        );

        assert_eq!(answered.prompt_sha256, sha256(sent));
        let reply = answered.reply;
        assert_eq!(reply.usage, Usage { input_tokens: 410, output_tokens: 52 });
        assert_eq!(reply.model, model_server::openai::MODEL);
        assert_eq!(reply.stop, Stop::Done);
        assert_eq!(reply.turn.text(), "Grow it.");
    })
    .await;
}

#[tokio::test]
async fn openai_threads_a_tool_result_back_by_its_tool_call_id() {
    bounded(async {
        let server = ModelServer::start().await;
        let arguments = json!({"tablespace_name": "USERS"});
        server.push_all([
            Scripted::ok(model_server::openai::tool_calls(&[("call_Vz1uV6bB0Xa8", "ora_storage", arguments.clone())])),
            Scripted::ok(model_server::openai::text("USERS needs a datafile.")),
        ]);
        let model = model(LlmProvider::OpenAi, "gpt-4o", &server.base);

        let first = send(&model, &exchange(), 5).await.expect("a first answer").reply;
        assert_eq!(first.stop, Stop::ToolUse);
        let call = only_call(&first);
        assert_eq!(call.id, "call_Vz1uV6bB0Xa8");
        assert_eq!(call.arguments, arguments, "the arguments string is parsed");
        send(&model, &answered(exchange(), first, &call), 5).await.expect("a second answer");

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let messages = &requests[1].json()["messages"];
        assert_eq!(messages[2]["role"], "assistant");
        assert_eq!(messages[2]["content"], Value::Null);
        let sent_call = &messages[2]["tool_calls"][0];
        assert_eq!(sent_call["id"], "call_Vz1uV6bB0Xa8");
        assert_eq!(sent_call["type"], "function");
        assert_eq!(sent_call["function"]["name"], "ora_storage");
        let sent_arguments: Value =
            serde_json::from_str(sent_call["function"]["arguments"].as_str().expect("arguments are a string"))
                .expect("the arguments string is JSON");
        assert_eq!(sent_arguments, arguments);
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "call_Vz1uV6bB0Xa8", "content": r#"{"used_pct": 97.2}"#})
        );
    })
    .await;
}

#[tokio::test]
async fn local_speaks_openai_without_a_key_and_with_max_tokens() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::openai::usage(model_server::openai::text("Grow it."), 80, 9)));
        let base = format!("{}/v1", server.base);
        let config = config(LlmProvider::Local, "qwen3:8b", &base, None);
        let model = Model::new(&config, LlmProvider::Local).expect("local needs no key");
        let reply = send(&model, &exchange(), 5).await.expect("an answer").reply;
        assert_eq!(reply.usage, Usage { input_tokens: 80, output_tokens: 9 });

        let requests = server.requests();
        let sent = the_only(&requests);
        assert_eq!(sent.path, "/v1/chat/completions");
        for header in ["authorization", "x-api-key", "x-goog-api-key"] {
            assert_eq!(sent.header(header), None, "{header} sent without a key");
        }
        let body = sent.json();
        assert_eq!(body["model"], "qwen3:8b");
        assert_eq!(body["max_tokens"], 1024, "compatible servers read max_tokens");
        assert!(body.get("max_completion_tokens").is_none());
        assert_eq!(body["tools"][0]["type"], "function");
    })
    .await;
}

#[tokio::test]
async fn local_sends_its_key_as_a_bearer_when_it_has_one() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::openai::text("ok")));
        let config = config(LlmProvider::Local, "qwen3:8b", &server.base, Some("local-s3cret"));
        let model = Model::new(&config, LlmProvider::Local).expect("a local model");
        send(&model, &exchange(), 5).await.expect("an answer");
        assert_eq!(the_only(&server.requests()).header("authorization"), Some("Bearer local-s3cret"));
    })
    .await;
}

// ---- Gemini ----------------------------------------------------------------------------

#[tokio::test]
async fn gemini_posts_generate_content_with_its_key_header_and_function_declarations() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::gemini::usage(model_server::gemini::text("Grow it."), 500, 40, 120)));
        let model = model(LlmProvider::Gemini, "gemini-2.5-flash", &server.base);
        let answered = send(&model, &exchange(), 5).await.expect("an answer");

        let requests = server.requests();
        let sent = the_only(&requests);
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/models/gemini-2.5-flash:generateContent"));
        assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
        assert_eq!(sent.header("authorization"), None);
        assert!(!sent.path.contains(KEY), "the key is not in the URL");
        let body = sent.json();
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "You are a careful DBA."}]}));
        assert_eq!(body["contents"], json!([{"role": "user", "parts": [{"text": "Tablespace USERS is 97 % full."}]}]));
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 1024);
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [{
                "name": "ora_storage", "description": "Tablespace usage", "parameters": storage_tool().parameters,
            }]}])
        );

        assert_eq!(answered.prompt_sha256, sha256(sent));
        let reply = answered.reply;
        assert_eq!(reply.usage, Usage { input_tokens: 500, output_tokens: 160 }, "thinking is billed as output");
        assert_eq!(reply.model, model_server::gemini::MODEL);
        assert_eq!(reply.stop, Stop::Done);
        assert_eq!(reply.turn.text(), "Grow it.");
    })
    .await;
}

#[tokio::test]
async fn gemini_sends_the_thought_signature_back_beside_its_function_call() {
    bounded(async {
        let server = ModelServer::start().await;
        let args = json!({"tablespace_name": "USERS"});
        let signature = "CiQB0e2Kb5n3/Zk+8q==";
        server.push_all([
            Scripted::ok(model_server::gemini::function_calls(&[("ora_storage", args.clone(), Some(signature))])),
            Scripted::ok(model_server::gemini::text("USERS needs a datafile.")),
        ]);
        let model = model(LlmProvider::Gemini, "gemini-2.5-flash", &server.base);

        let first = send(&model, &exchange(), 5).await.expect("a first answer").reply;
        assert_eq!(first.stop, Stop::ToolUse, "a functionCall part means tool use, whatever finishReason says");
        let call = only_call(&first);
        assert_eq!(call.name, "ora_storage");
        assert_eq!(call.signature.as_deref(), Some(signature));
        send(&model, &answered(exchange(), first, &call), 5).await.expect("a second answer");

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let contents = &requests[1].json()["contents"];
        assert_eq!(contents[1]["role"], "model");
        assert_eq!(
            contents[1]["parts"],
            json!([{"functionCall": {"name": "ora_storage", "args": args}, "thoughtSignature": signature}]),
            "the signature is a sibling of functionCall, unchanged, and no made-up id is sent"
        );
        assert_eq!(contents[2]["role"], "user");
        assert_eq!(
            contents[2]["parts"],
            json!([{"functionResponse": {"name": "ora_storage", "response": {"output": {"used_pct": 97.2}}}}])
        );
    })
    .await;
}

#[tokio::test]
async fn gemini_threads_a_call_id_back_when_the_model_gave_one() {
    bounded(async {
        let server = ModelServer::start().await;
        let mut first = model_server::gemini::function_calls(&[("ora_storage", json!({}), None)]);
        first["candidates"][0]["content"]["parts"][0]["functionCall"]["id"] = json!("fc_7h3x");
        server.push_all([Scripted::ok(first), Scripted::ok(model_server::gemini::text("done"))]);
        let model = model(LlmProvider::Gemini, "gemini-2.5-flash", &server.base);

        let first = send(&model, &exchange(), 5).await.expect("a first answer").reply;
        let call = only_call(&first);
        assert_eq!((call.id.as_str(), call.signature.as_deref()), ("fc_7h3x", None));
        send(&model, &answered(exchange(), first, &call), 5).await.expect("a second answer");

        let contents = &server.requests()[1].json()["contents"];
        assert_eq!(
            contents[1]["parts"][0],
            json!({"functionCall": {"name": "ora_storage", "args": {}, "id": "fc_7h3x"}})
        );
        assert_eq!(contents[2]["parts"][0]["functionResponse"]["id"], "fc_7h3x");
    })
    .await;
}

// ---- Retries ---------------------------------------------------------------------------

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_answered() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push_all([
            Scripted::Json {
                status: 429,
                body: model_server::anthropic::error(
                    "rate_limit_error",
                    "Number of request tokens has exceeded your per-minute rate limit",
                ),
                retry_after: Some(1),
            },
            Scripted::ok(model_server::anthropic::text("Grow it.")),
        ]);
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        let answered = send(&model, &exchange(), 10).await.expect("an answer after the retry");
        assert_eq!(answered.attempts, 2);
        assert_eq!(answered.reply.turn.text(), "Grow it.");
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].body, requests[1].body, "the retry sends the same request");
    })
    .await;
}

#[tokio::test]
async fn a_429_without_retry_after_is_retried_with_backoff_then_answered() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push_all([
            Scripted::Json {
                status: 429,
                body: model_server::openai::error("requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o"),
                retry_after: None,
            },
            Scripted::ok(model_server::openai::text("Grow it.")),
        ]);
        let model = model(LlmProvider::OpenAi, "gpt-4o", &server.base);
        let answered = send(&model, &exchange(), 10).await.expect("an answer after the retry");
        assert_eq!(answered.attempts, 2);
        assert_eq!(answered.reply.turn.text(), "Grow it.");
        assert_eq!(server.requests().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn two_500s_then_success_within_the_deadline() {
    bounded(async {
        let server = ModelServer::start().await;
        let unavailable = Scripted::Json {
            status: 500,
            body: model_server::gemini::error(500, "INTERNAL", "An internal error has occurred."),
            retry_after: None,
        };
        server.push_all([unavailable.clone(), unavailable, Scripted::ok(model_server::gemini::text("Grow it."))]);
        let model = model(LlmProvider::Gemini, "gemini-2.5-flash", &server.base);
        let answered = send(&model, &exchange(), 10).await.expect("an answer after two retries");
        assert_eq!(answered.attempts, 3);
        assert_eq!(answered.reply.turn.text(), "Grow it.");
        assert_eq!(server.requests().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn an_overloaded_529_is_retried() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push_all([
            Scripted::Json {
                status: 529,
                body: model_server::anthropic::error("overloaded_error", "Overloaded"),
                retry_after: None,
            },
            Scripted::ok(model_server::anthropic::text("Grow it.")),
        ]);
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        assert_eq!(send(&model, &exchange(), 10).await.expect("an answer").attempts, 2);
    })
    .await;
}

#[tokio::test]
async fn a_400_is_not_retried() {
    bounded(async {
        for (provider, name, body) in [
            (
                LlmProvider::Claude,
                "claude-sonnet-4-5",
                model_server::anthropic::error("invalid_request_error", "max_tokens: Field required"),
            ),
            (
                LlmProvider::OpenAi,
                "gpt-4o",
                model_server::openai::error(
                    "invalid_request_error",
                    "invalid_value",
                    "Invalid value for 'temperature'",
                ),
            ),
            (
                LlmProvider::Gemini,
                "gemini-2.5-flash",
                model_server::gemini::error(400, "INVALID_ARGUMENT", "Function call is missing a thought_signature"),
            ),
        ] {
            let server = ModelServer::start().await;
            server.push_all([
                Scripted::Json { status: 400, body, retry_after: None },
                Scripted::ok(model_server::openai::text("never asked for")),
            ]);
            let model = model(provider, name, &server.base);
            let error = send(&model, &exchange(), 10).await.expect_err("a 400 fails");
            assert!(matches!(error, LlmError::Status { status: 400, .. }), "{provider}: {error}");
            assert_eq!(server.requests().len(), 1, "{provider}: exactly one request");
        }
    })
    .await;
}

// ---- A slow model ----------------------------------------------------------------------

#[tokio::test]
async fn a_model_slower_than_the_timeout_fails_within_the_deadline() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::ok(model_server::openai::text("too late")).delayed(Duration::from_secs(10)));
        let mut config = config(LlmProvider::OpenAi, "gpt-4o", &server.base, Some(KEY));
        config.timeout = Duration::from_millis(300);
        let model = Model::new(&config, LlmProvider::OpenAi).expect("a model");
        // The first attempt times out after 300 ms; the first backoff (500 ms) would end past
        // the deadline, so there is no second attempt.
        let deadline = Instant::now() + Duration::from_millis(600);
        let error = model.send(&exchange(), deadline).await.expect_err("no answer in time");
        match &error {
            LlmError::Deadline { .. } => {}
            LlmError::Transport { source, .. } => assert!(source.is_timeout(), "a timeout, not {source}"),
            other => panic!("a deadline or a timeout, not {other}"),
        }
        assert_eq!(server.requests().len(), 1, "one attempt fits the deadline");
    })
    .await;
}

// ---- Malformed responses ---------------------------------------------------------------

#[tokio::test]
async fn a_200_that_is_not_json_is_malformed() {
    bounded(async {
        for (provider, name) in [
            (LlmProvider::Claude, "claude-sonnet-4-5"),
            (LlmProvider::OpenAi, "gpt-4o"),
            (LlmProvider::Gemini, "gemini-2.5-flash"),
        ] {
            let server = ModelServer::start().await;
            server.push(Scripted::Raw { status: 200, body: "<html><body>Gateway login</body></html>".into() });
            let model = model(provider, name, &server.base);
            let error = send(&model, &exchange(), 5).await.expect_err("not JSON");
            match &error {
                LlmError::Malformed { reason, .. } => assert!(reason.contains("Gateway login"), "{provider}: {reason}"),
                other => panic!("{provider}: malformed, not {other}"),
            }
            assert_eq!(server.requests().len(), 1, "{provider}: a malformed answer is not retried");
        }
    })
    .await;
}

#[tokio::test]
async fn a_200_without_the_answer_field_is_malformed() {
    bounded(async {
        for (provider, name, body) in [
            (LlmProvider::Claude, "claude-sonnet-4-5", json!({"id": "msg_1", "type": "message", "role": "assistant"})),
            (
                LlmProvider::OpenAi,
                "gpt-4o",
                json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o"}),
            ),
            (LlmProvider::Local, "qwen3:8b", json!({"choices": []})),
            (
                LlmProvider::Gemini,
                "gemini-2.5-flash",
                json!({"usageMetadata": {"promptTokenCount": 3}, "modelVersion": "gemini-2.5-flash"}),
            ),
        ] {
            let server = ModelServer::start().await;
            server.push(Scripted::ok(body));
            let model = model(provider, name, &server.base);
            let error = send(&model, &exchange(), 5).await.expect_err("no answer field");
            assert!(matches!(error, LlmError::Malformed { .. }), "{provider}: {error}");
            assert_eq!(server.requests().len(), 1);
        }
    })
    .await;
}

// ---- Error bodies ----------------------------------------------------------------------

#[tokio::test]
async fn a_401_carries_the_vendors_message() {
    bounded(async {
        for (provider, name, body, message) in [
            (
                LlmProvider::Claude,
                "claude-sonnet-4-5",
                model_server::anthropic::error("authentication_error", "invalid x-api-key"),
                "invalid x-api-key",
            ),
            (
                LlmProvider::OpenAi,
                "gpt-4o",
                model_server::openai::error(
                    "invalid_request_error",
                    "invalid_api_key",
                    "Incorrect API key provided: sk-test-***6789.",
                ),
                "Incorrect API key provided",
            ),
            (
                LlmProvider::Gemini,
                "gemini-2.5-flash",
                model_server::gemini::error(401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key."),
                "API key not valid",
            ),
        ] {
            let server = ModelServer::start().await;
            server.push(Scripted::Json { status: 401, body, retry_after: None });
            let model = model(provider, name, &server.base);
            let error = send(&model, &exchange(), 5).await.expect_err("unauthorized");
            match &error {
                LlmError::Status { status: 401, message: got, .. } => {
                    assert!(got.contains(message), "{provider}: {got}")
                }
                other => panic!("{provider}: HTTP 401, not {other}"),
            }
            assert!(error.to_string().contains(message), "{provider}: the message is in the error's text: {error}");
            assert!(!error.to_string().contains(KEY), "{provider}: the key is never in the error");
            assert_eq!(server.requests().len(), 1, "{provider}: a 401 is not retried");
        }
    })
    .await;
}

#[tokio::test]
async fn an_error_body_that_is_not_json_is_kept_as_text() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push(Scripted::Raw { status: 403, body: "Forbidden by the corporate proxy".into() });
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        let error = send(&model, &exchange(), 5).await.expect_err("forbidden");
        match error {
            LlmError::Status { status: 403, message, .. } => assert_eq!(message, "Forbidden by the corporate proxy"),
            other => panic!("HTTP 403, not {other}"),
        }
    })
    .await;
}

#[tokio::test]
async fn an_exhausted_script_fails_visibly() {
    bounded(async {
        let server = ModelServer::start().await;
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        // A deadline too short for a retry: the 500 is the answer.
        let error =
            model.send(&exchange(), Instant::now() + Duration::from_millis(300)).await.expect_err("nothing scripted");
        match error {
            LlmError::Status { status: 500, message, .. } => assert!(message.contains("script exhausted"), "{message}"),
            other => panic!("HTTP 500, not {other}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_keeps_refusing_is_given_up_after_a_few_attempts_well_before_the_deadline() {
    bounded(async {
        let server = ModelServer::start().await;
        server.push_all((0..10).map(|_| Scripted::status(503)));
        let model = model(LlmProvider::Claude, "claude-sonnet-4-5", &server.base);
        let started = std::time::Instant::now();
        let error = send(&model, &exchange(), 120).await.expect_err("down");
        assert!(error.to_string().contains("503"), "{error}");
        assert_eq!(server.requests().len(), sentri::llm::client::MAX_ATTEMPTS as usize);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    })
    .await;
}
