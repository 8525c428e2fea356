//! A conversation with a model, in no vendor's shape: what Sentri asks (a system text, turns,
//! the tools it offers) and what comes back (text, tool calls, token usage). Each wire module
//! translates it to and from its vendor's JSON, so the loop that investigates knows none of
//! them.

use serde_json::Value;

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sentri: the alert and its evidence, and tool results.
    User,
    /// The model.
    Assistant,
}

/// One piece of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text. `signature` is Gemini's `thoughtSignature` when the part carried one: it goes
    /// back unchanged with the turn.
    Text { text: String, signature: Option<String> },
    /// The model asks for a tool.
    Call(ToolCall),
    /// A tool's answer to a call, sent in a user turn.
    Result(ToolResult),
}

impl Part {
    /// A text part without a signature.
    pub fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into(), signature: None }
    }
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id for the call (Anthropic `toolu_…`, OpenAI `call_…`); Gemini gives
    /// none before its newest models, and then Sentri numbers the calls itself.
    pub id: String,
    pub name: String,
    /// The arguments, a JSON object as the model wrote it (not yet validated).
    pub arguments: Value,
    /// Gemini's `thoughtSignature` on the call's part: sent back unchanged, or the next
    /// request fails.
    pub signature: Option<String>,
}

/// A tool's answer, threaded back to the call with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub call_id: String,
    /// The tool's name (Gemini matches answers by name).
    pub name: String,
    /// The result as JSON text (or the error's message).
    pub content: String,
    pub is_error: bool,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Turn {
    /// A user turn of one text.
    pub fn user(text: impl Into<String>) -> Turn {
        Turn { role: Role::User, parts: vec![Part::text(text)] }
    }

    /// The turn's text parts, joined.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|part| match part {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n")
    }

    /// The tool calls in the turn.
    pub fn calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.parts.iter().filter_map(|part| match part {
            Part::Call(call) => Some(call),
            _ => None,
        })
    }
}

/// A tool as the model is told of it: its name, what it is for, and its arguments as a JSON
/// Schema object (`type`, `properties`, `required`, `enum`, `description` only: the subset
/// every provider accepts).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// What Sentri sends in one request.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub system: String,
    pub turns: Vec<Turn>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Ask for a JSON answer (OpenAI `response_format`, Gemini `responseMimeType`); Anthropic
    /// has no switch, and the system text asks instead.
    pub json: bool,
}

impl Exchange {
    /// One question, no tools, a JSON answer asked for: the shape of the one-shot level, the
    /// judges and the classifier.
    pub fn json_question(system: String, user: String, max_tokens: u32, temperature: f32) -> Exchange {
        Exchange { system, turns: vec![Turn::user(user)], tools: Vec::new(), max_tokens, temperature, json: true }
    }
}

/// Tokens a call used, from the response's own usage fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It answered.
    Done,
    /// It wants tool results.
    ToolUse,
    /// It ran out of `max_tokens`: the answer is cut.
    MaxTokens,
    /// Refused, filtered, or a reason Sentri does not know.
    Other,
}

/// What came back from one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The model's turn, to append to the conversation as is.
    pub turn: Turn,
    pub usage: Usage,
    /// The model that answered, as the provider names it.
    pub model: String,
    pub stop: Stop,
}
