//! Which language model Sentri may consult, with which key and budget, plus the reference
//! product's `learning` and `rag` sections.
//!
//! The reference configured its LLM inside `learning:` (`llm_provider`, `llm_model`,
//! `researcher_provider`, …). Sentri has an `llm:` section; when it is absent those
//! `learning.*` keys feed it, so existing files keep their meaning. When both are present,
//! `llm:` wins and the `learning.*` LLM keys are reported as ignored. Unlike the reference,
//! `model` applies only to the main `provider`: the researcher and judges use their own
//! provider's default model.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::Secret;
use super::diagnostics::{Diagnostics, Position, WarningKind};
use super::yaml::{Fields, Value};

/// A language-model provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LlmProvider {
    /// Anthropic Claude.
    Claude,
    /// OpenAI.
    OpenAi,
    /// Google Gemini.
    Gemini,
    /// An OpenAI-compatible server at `base_url` (Ollama, vLLM, llama.cpp…).
    Local,
    /// No model: Sentri uses its policy templates only.
    None,
}

impl LlmProvider {
    /// The spellings accepted (case-insensitive).
    pub const ALLOWED: &'static str = "claude, openai, gemini, local, none";

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "claude" | "anthropic" => Some(Self::Claude),
            "openai" => Some(Self::OpenAi),
            "gemini" | "google" => Some(Self::Gemini),
            "local" => Some(Self::Local),
            "none" | "off" => Some(Self::None),
            _ => None,
        }
    }

    /// The model used when none is configured (the reference product's defaults).
    pub fn default_model(self) -> Option<&'static str> {
        match self {
            Self::Claude => Some("claude-sonnet-4-5-20250929"),
            Self::OpenAi => Some("gpt-4o-2024-08-06"),
            Self::Gemini => Some("gemini-2.5-flash"),
            Self::Local | Self::None => None,
        }
    }

    /// Where this provider's API key is looked for, in order: Sentri's per-provider variable,
    /// the legacy `SENTRI_LLM_API_KEY`, then the vendor's conventional variable.
    pub fn api_key_vars(self) -> &'static [&'static str] {
        match self {
            Self::Claude => &["SENTRI_CLAUDE_API_KEY", LLM_API_KEY_VAR, "ANTHROPIC_API_KEY"],
            Self::OpenAi => &["SENTRI_OPENAI_API_KEY", LLM_API_KEY_VAR, "OPENAI_API_KEY"],
            Self::Gemini => &["SENTRI_GEMINI_API_KEY", LLM_API_KEY_VAR, "GOOGLE_API_KEY"],
            Self::Local => &[LLM_API_KEY_VAR],
            Self::None => &[],
        }
    }
}

impl fmt::Display for LlmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Claude => "claude",
            Self::OpenAi => "openai",
            Self::Gemini => "gemini",
            Self::Local => "local",
            Self::None => "none",
        })
    }
}

/// The legacy key that serves any provider.
pub const LLM_API_KEY_VAR: &str = "SENTRI_LLM_API_KEY";

/// Who judges candidate fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeProvider {
    /// Every judge uses this provider.
    Single(LlmProvider),
    /// One judge per provider that has a key (the reference's "diverse").
    Diverse,
}

/// API keys per provider, resolved from the environment.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    /// Anthropic key.
    pub claude: Option<Secret>,
    /// OpenAI key.
    pub openai: Option<Secret>,
    /// Gemini key.
    pub gemini: Option<Secret>,
    /// Key for the local server, if it wants one.
    pub local: Option<Secret>,
}

/// The language model Sentri consults for diagnosis and candidate fixes.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// The main provider. When not configured: the first of claude, openai, gemini whose key
    /// is in the environment, else none.
    pub provider: LlmProvider,
    /// The main provider's model; `None` = its default.
    pub model: Option<String>,
    /// The OpenAI-compatible endpoint for `local`.
    pub base_url: Option<String>,
    /// Spending stops for the day past this many US dollars (5.0).
    pub daily_cost_limit: f64,
    /// Per-request time limit (60 s).
    pub timeout: Duration,
    /// Provider for the researcher; `None` = the main provider.
    pub researcher_provider: Option<LlmProvider>,
    /// Provider for the judges; `None` = the main provider.
    pub judge_provider: Option<JudgeProvider>,
    /// Keys found in the environment.
    pub api_keys: ApiKeys,
    /// `llm.prices`: per model-name prefix, over the built-in list.
    pub prices: BTreeMap<String, PriceOverride>,
    /// `llm.classify_unmatched` (true): show an email no policy matched to the model, which may
    /// open a workflow that always waits for a human. Off: such mail stays unmatched, at no cost.
    pub classify_unmatched: bool,
}

/// A price the user sets for models whose name starts with a prefix, in US dollars per
/// million tokens (`llm.prices: {claude-sonnet: {input: 3, output: 15}}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: LlmProvider::None,
            model: None,
            base_url: None,
            daily_cost_limit: 5.0,
            timeout: Duration::from_secs(60),
            researcher_provider: None,
            judge_provider: None,
            api_keys: ApiKeys::default(),
            prices: BTreeMap::new(),
            classify_unmatched: true,
        }
    }
}

impl LlmConfig {
    /// The key for `provider`, if the environment has one.
    pub fn api_key(&self, provider: LlmProvider) -> Option<&Secret> {
        match provider {
            LlmProvider::Claude => self.api_keys.claude.as_ref(),
            LlmProvider::OpenAi => self.api_keys.openai.as_ref(),
            LlmProvider::Gemini => self.api_keys.gemini.as_ref(),
            LlmProvider::Local => self.api_keys.local.as_ref(),
            LlmProvider::None => None,
        }
    }

    /// The model to ask `provider` for: the configured model for the main provider, the
    /// provider's default otherwise.
    pub fn model_for(&self, provider: LlmProvider) -> Option<&str> {
        match &self.model {
            Some(m) if provider == self.provider => Some(m),
            _ => provider.default_model(),
        }
    }
}

/// The reference's learning loop settings (observations before a policy change is proposed,
/// the judging panel).
#[derive(Debug, Clone)]
pub struct LearningConfig {
    /// Whether the learning loop runs (false).
    pub enabled: bool,
    /// Observations needed before a change is proposed (5).
    pub min_observations: u64,
    /// Judges on the panel (3).
    pub judge_count: u64,
    /// Judges who must agree (2).
    pub judge_agreement: u64,
    /// Days a change is watched after it is adopted (30).
    pub monitoring_days: u64,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self { enabled: false, min_observations: 5, judge_count: 3, judge_agreement: 2, monitoring_days: 30 }
    }
}

/// Retrieval of Oracle documentation for prompts.
#[derive(Debug, Clone)]
pub struct RagConfig {
    /// Fetch documentation from the web (false).
    pub enable_web_fetch: bool,
    /// Use embeddings for retrieval (false).
    pub enable_embeddings: bool,
    /// How long fetched pages are cached (24 h).
    pub cache_hours: u64,
    /// Documents put into one prompt (5).
    pub max_docs_in_prompt: u64,
    /// Oracle version assumed before a database is profiled ("19c").
    pub default_version: String,
    /// Check generated SQL against the documented syntax (true).
    pub validate_sql: bool,
}

impl Default for RagConfig {
    fn default() -> Self {
        Self {
            enable_web_fetch: false,
            enable_embeddings: false,
            cache_hours: 24,
            max_docs_in_prompt: 5,
            default_version: "19c".to_owned(),
            validate_sql: true,
        }
    }
}

/// The LLM keys of `learning:` and their `llm:` names.
const LEGACY_LLM_KEYS: [(&str, &str); 5] = [
    ("llm_provider", "provider"),
    ("llm_model", "model"),
    ("daily_cost_limit", "daily_cost_limit"),
    ("researcher_provider", "researcher_provider"),
    ("judge_provider", "judge_provider"),
];

fn provider_at(
    f: &mut Fields<'_>,
    d: &mut Diagnostics,
    key: &'static str,
    allow_diverse: bool,
) -> Option<JudgeProvider> {
    let s = f.string(d, key)?;
    if s.trim().is_empty() {
        return None;
    }
    if allow_diverse && s.trim().eq_ignore_ascii_case("diverse") {
        return Some(JudgeProvider::Diverse);
    }
    match LlmProvider::parse(&s) {
        Some(p) => Some(JudgeProvider::Single(p)),
        None => {
            let extra = if allow_diverse { ", diverse" } else { "" };
            d.problem(
                f.get(key).map(|n| n.position),
                f.key_path(key),
                format!("unknown provider `{s}` (allowed: {}{extra})", LlmProvider::ALLOWED),
            );
            None
        }
    }
}

fn single(p: Option<JudgeProvider>) -> Option<LlmProvider> {
    match p {
        Some(JudgeProvider::Single(p)) => Some(p),
        _ => None,
    }
}

/// Reads `llm:`, `learning:` and `rag:` from the top-level mapping.
pub(crate) fn read_llm_learning_rag(
    top: &mut Fields<'_>,
    d: &mut Diagnostics,
    env: &dyn Fn(&str) -> Option<String>,
) -> (LlmConfig, LearningConfig, RagConfig) {
    let def = LlmConfig::default();
    let llm_written = top.has("llm");
    let mut learning = top.child(d, "learning");
    let mut llm = top.child(d, "llm");

    // learning proper
    let ldef = LearningConfig::default();
    let learning_config = LearningConfig {
        enabled: learning.bool(d, "enabled").unwrap_or(ldef.enabled),
        min_observations: learning.uint(d, "min_observations").unwrap_or(ldef.min_observations),
        judge_count: learning.uint(d, "judge_count").unwrap_or(ldef.judge_count),
        judge_agreement: learning.uint(d, "judge_agreement").unwrap_or(ldef.judge_agreement),
        monitoring_days: learning.uint(d, "monitoring_days").unwrap_or(ldef.monitoring_days),
    };
    if learning_config.judge_agreement > learning_config.judge_count {
        d.problem(
            learning.get("judge_agreement").map(|n| n.position),
            learning.key_path("judge_agreement"),
            format!(
                "{} judges must agree but the panel has only {} (judge_count)",
                learning_config.judge_agreement, learning_config.judge_count
            ),
        );
    }
    for (key, var) in [
        ("llm_api_key", LLM_API_KEY_VAR),
        ("claude_api_key", "SENTRI_CLAUDE_API_KEY"),
        ("openai_api_key", "SENTRI_OPENAI_API_KEY"),
        ("gemini_api_key", "SENTRI_GEMINI_API_KEY"),
    ] {
        learning.secret_in_file(d, key, var);
    }

    // The LLM settings: from `llm:`, else from the legacy keys of `learning:`.
    let (provider, model, daily_cost_limit, researcher, judge, where_written) = if llm_written {
        for (legacy, new) in LEGACY_LLM_KEYS {
            let written =
                learning.get(legacy).is_some_and(|n| !matches!(&n.value, Value::Str(s) if s.trim().is_empty()));
            if written {
                learning.not_used(d, legacy, &format!("the llm: section is present, so llm.{new} applies"));
            }
        }
        let provider = single(provider_at(&mut llm, d, "provider", false));
        let model = llm.string(d, "model");
        let limit = llm.float(d, "daily_cost_limit");
        let researcher = single(provider_at(&mut llm, d, "researcher_provider", false));
        let judge = provider_at(&mut llm, d, "judge_provider", true);
        (provider, model, limit, researcher, judge, &llm)
    } else {
        let provider = single(provider_at(&mut learning, d, "llm_provider", false));
        let model = learning.string(d, "llm_model");
        let limit = learning.float(d, "daily_cost_limit");
        let researcher = single(provider_at(&mut learning, d, "researcher_provider", false));
        let judge = provider_at(&mut learning, d, "judge_provider", true);
        (provider, model, limit, researcher, judge, &learning)
    };
    let section_position: Option<Position> = where_written.position();
    let section_path = where_written.path().to_owned();

    let non_empty = |var: &str| env(var).filter(|v| !v.trim().is_empty());
    let key_for = |p: LlmProvider| p.api_key_vars().iter().find_map(|var| non_empty(var)).map(Secret::new);
    let api_keys = ApiKeys {
        claude: key_for(LlmProvider::Claude),
        openai: key_for(LlmProvider::OpenAi),
        gemini: key_for(LlmProvider::Gemini),
        local: key_for(LlmProvider::Local),
    };
    // Unset: the first provider with its *own* key (SENTRI_LLM_API_KEY names no provider).
    let provider = provider.unwrap_or_else(|| {
        [LlmProvider::Claude, LlmProvider::OpenAi, LlmProvider::Gemini]
            .into_iter()
            .find(|p| p.api_key_vars().iter().filter(|v| **v != LLM_API_KEY_VAR).any(|v| non_empty(v).is_some()))
            .unwrap_or(LlmProvider::None)
    });

    let base_url = llm.string(d, "base_url").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let timeout = match llm.uint(d, "timeout_seconds") {
        Some(0) => {
            d.problem(
                llm.get("timeout_seconds").map(|n| n.position),
                llm.key_path("timeout_seconds"),
                "must be at least 1 second",
            );
            def.timeout
        }
        Some(s) => Duration::from_secs(s),
        None => def.timeout,
    };
    llm.secret_in_file(d, "api_key", LLM_API_KEY_VAR);
    let prices = prices(&mut llm, d);
    let classify_unmatched = llm.bool(d, "classify_unmatched").unwrap_or(def.classify_unmatched);
    let model = model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    if provider == LlmProvider::Local {
        if base_url.is_none() {
            d.problem(
                section_position,
                "llm.base_url",
                "required when the provider is local (the server's OpenAI-compatible URL)",
            );
        }
        if model.is_none() {
            d.problem(
                section_position,
                if llm_written { "llm.model".to_owned() } else { format!("{section_path}.llm_model") },
                "required when the provider is local (there is no default model)",
            );
        }
    }
    if matches!(provider, LlmProvider::Claude | LlmProvider::OpenAi | LlmProvider::Gemini)
        && key_for(provider).is_none()
    {
        d.warn(
            section_position,
            format!("{section_path}.{}", if llm_written { "provider" } else { "llm_provider" }),
            WarningKind::Questionable,
            format!(
                "the provider is {provider} but none of {} is set; Sentri will use its \
                 templates only",
                provider.api_key_vars().join(", ")
            ),
        );
    }
    let config = LlmConfig {
        provider,
        model,
        base_url,
        daily_cost_limit: daily_cost_limit.unwrap_or(def.daily_cost_limit),
        timeout,
        researcher_provider: researcher,
        judge_provider: judge,
        api_keys,
        prices,
        classify_unmatched,
    };
    learning.finish(d);
    llm.finish(d);

    let mut rag = top.child(d, "rag");
    let rdef = RagConfig::default();
    let rag_config = RagConfig {
        enable_web_fetch: rag.bool(d, "enable_web_fetch").unwrap_or(rdef.enable_web_fetch),
        enable_embeddings: rag.bool(d, "enable_embeddings").unwrap_or(rdef.enable_embeddings),
        cache_hours: rag.uint(d, "cache_hours").unwrap_or(rdef.cache_hours),
        max_docs_in_prompt: rag.uint(d, "max_docs_in_prompt").unwrap_or(rdef.max_docs_in_prompt),
        default_version: rag
            .string(d, "default_version")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or(rdef.default_version),
        validate_sql: rag.bool(d, "validate_sql").unwrap_or(rdef.validate_sql),
    };
    rag.finish(d);
    (config, learning_config, rag_config)
}

/// `llm.prices`: each model-name prefix with its input and output price. A row missing either
/// price, or with one that is not a number of 0 or more, is reported (the file does not load).
fn prices(llm: &mut Fields<'_>, d: &mut Diagnostics) -> BTreeMap<String, PriceOverride> {
    let mut prices = BTreeMap::new();
    for (prefix, mut row) in llm.named_children(d, "prices") {
        // `float` reports a value that is not a number of 0 or more; what is left to say is a
        // price that is missing.
        let written = row.has("input") && row.has("output");
        let input = row.float(d, "input");
        let output = row.float(d, "output");
        let prefix = prefix.trim().to_owned();
        match (input, output) {
            (Some(input), Some(output)) if !prefix.is_empty() => {
                prices.insert(prefix, PriceOverride { input, output });
            }
            _ if !written || prefix.is_empty() => d.problem(
                row.position(),
                row.path().to_owned(),
                "a price needs a model-name prefix with `input` and `output`, US dollars per million tokens",
            ),
            _ => {}
        }
        row.finish(d);
    }
    prices
}
