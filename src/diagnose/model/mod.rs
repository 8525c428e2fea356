//! A language model on top of the specialists: it investigates with the same read-only tools,
//! names root causes in the same vocabulary, and proposes candidates that are vetted like a
//! fix file and then drafted, resolved and scored like a specialist's. It never acts.
//!
//! Levels, each falling to the next when it gives nothing usable (an outage, a timeout, a
//! malformed answer, a spent budget or cost limit, or only refused candidates):
//! 1. **agentic** — the model calls tools, within a [`Budget`] of calls, turns, tokens and time;
//! 2. **one-shot** — one request with the specialists' findings, no tools;
//! 3. **deterministic** — the specialists' diagnosis as it was;
//! 4. **template** — the policy's own fix.
//!
//! On the deepest path (the cost gate's argue and select), judge models then score the
//! candidates on the specialists' criteria ([`judge`]).
//!
//! The level used, every call (tokens, cost, time, tools, prompt hash), every refused candidate
//! with its reason, the judges' verdicts and the conversation are recorded in the diagnosis.

pub mod answer;
pub mod classify;
pub mod gate;
pub mod ground_truth;
pub mod judge;
pub mod memory;
pub mod prompt;
pub mod toolbox;
pub mod vet;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use self::answer::Answer;
use super::candidates::{self, Drafted};
use super::tools::ToolContext;
use super::{Request, route, score};
use crate::domain::{
    Candidate, Diagnosis, Dropped, Evidence, Finding, JudgeVote, Judgement, Level, ModelCall, ModelRecord, RootCause,
    TranscriptEntry,
};
use crate::llm::client::Model;
use crate::llm::conversation::{Exchange, Part, Role, Turn};
use crate::llm::price::Prices;
use crate::llm::redact::Redactor;
use crate::llm::{Ledger, LlmError};
use crate::policy::PolicySet;
use crate::policy::tool::ToolPolicy;
use crate::targets::Target;

/// What one diagnosis may spend on the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Tool calls over the whole investigation.
    pub tool_calls: u32,
    /// Requests in the agentic conversation.
    pub turns: u32,
    /// Input and output tokens over every call.
    pub tokens: u64,
    /// Wall time for the model's part, both levels together.
    pub time: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { tool_calls: 8, turns: 6, tokens: 80_000, time: Duration::from_secs(120) }
    }
}

/// How deep to go, as the cost gate decides from history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Investigate with the tools, then one-shot if that fails.
    Agentic,
    /// Ask once.
    OneShot,
}

/// What the caller knows beyond the request, for the prompt: the verification's evidence as
/// text, and Sentri's memory of this database and alert type ([`memory::recall`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Briefing<'a> {
    pub verification: Option<&'a str>,
    pub memory: Option<&'a str>,
}

/// The model and what it may spend.
pub struct Advisor<'a> {
    pub model: &'a Model,
    pub prices: &'a Prices,
    /// Spending stops for the day past this (US dollars).
    pub daily_limit: f64,
    pub ledger: &'a dyn Ledger,
    pub budget: Budget,
    pub depth: Depth,
    /// The panel that argues and selects on the deepest path; empty: no judging.
    pub judges: &'a [Model],
    /// What takes secrets out of prompts, tool results and the kept transcript.
    pub redactor: &'a Redactor,
}

/// The configured model, ready to ask: `None` when `llm.provider` is none.
pub struct Configured {
    pub model: Model,
    /// The judges `llm.judge_provider` names: that provider, one per provider with a key
    /// (`diverse`), or the main model.
    pub judges: Vec<Model>,
    /// Providers `diverse` wanted that cannot be asked, and why.
    pub panel_notes: Vec<String>,
    pub prices: Prices,
    pub daily_limit: f64,
    /// This configuration's secrets, kept out of every prompt and transcript.
    pub redactor: Redactor,
}

impl Configured {
    /// The model `config.llm` names, or why it cannot be asked (no key, no base URL).
    pub fn from_config(config: &crate::config::Config) -> Result<Option<Configured>, LlmError> {
        let redactor = Redactor::new(config.secret_values());
        let config = &config.llm;
        if config.provider == crate::config::LlmProvider::None {
            return Ok(None);
        }
        let model = Model::new(config, config.provider)?;
        let (judges, panel_notes) = panel(config, &model);
        Ok(Some(Configured {
            model,
            judges,
            panel_notes,
            prices: Prices::configured(&config.prices),
            daily_limit: config.daily_cost_limit,
            redactor,
        }))
    }

    /// An advisor over this model, spending through `ledger`.
    pub fn advisor<'a>(&'a self, ledger: &'a dyn Ledger, depth: Depth) -> Advisor<'a> {
        Advisor {
            model: &self.model,
            prices: &self.prices,
            daily_limit: self.daily_limit,
            ledger,
            budget: Budget::default(),
            depth,
            judges: &self.judges,
            redactor: &self.redactor,
        }
    }
}

/// The judges `config` asks for. A judge provider that cannot be asked (no key) is left off
/// with a note; a panel left empty is the main model alone.
fn panel(config: &crate::config::LlmConfig, main: &Model) -> (Vec<Model>, Vec<String>) {
    use crate::config::{JudgeProvider, LlmProvider};
    let wanted: Vec<LlmProvider> = match config.judge_provider {
        None => return (vec![main.clone()], Vec::new()),
        Some(JudgeProvider::Single(provider)) => vec![provider],
        Some(JudgeProvider::Diverse) => {
            [LlmProvider::Claude, LlmProvider::OpenAi, LlmProvider::Gemini, LlmProvider::Local]
                .into_iter()
                .filter(|provider| config.api_key(*provider).is_some())
                .collect()
        }
    };
    let mut notes = Vec::new();
    let mut judges = Vec::new();
    for provider in wanted {
        if provider == main.provider {
            judges.push(main.clone());
            continue;
        }
        match Model::new(config, provider) {
            Ok(model) => judges.push(model),
            Err(error) => notes.push(format!("{provider} cannot judge: {error}")),
        }
    }
    if judges.is_empty() {
        judges.push(main.clone());
    }
    (judges, notes)
}

/// The one-shot level keeps this share of the time budget, so a slow agentic level leaves it room.
const ONE_SHOT_SHARE: u32 = 4;

/// `deterministic`, deepened by the model: its causes and candidates added where they survive
/// vetting, the level used recorded. Never fails: whatever the model does, the result is at
/// least `deterministic`.
pub async fn deepen(
    target: &Target,
    policies: &PolicySet,
    request: &Request<'_>,
    deterministic: Diagnosis,
    advisor: &Advisor<'_>,
    briefing: &Briefing<'_>,
) -> Diagnosis {
    let started = Instant::now();
    let deadline = started + advisor.budget.time;
    let engine = target.engine();
    let specialists = route::specialists(policies, engine, request.alert);
    let offered: Vec<&ToolPolicy> = route::tools(policies, engine, &specialists);
    let mut context = ToolContext { environment: request.environment, profile: request.profile.clone() };
    if context.profile.is_none() {
        context.profile = target.profile().await.ok();
    }
    let action_types: Vec<String> = policies.brain.action_rules.keys().cloned().collect();
    let facts = prompt::Facts {
        database: request.facts.database,
        environment: request.facts.environment,
        alert: request.alert,
        profile: context.profile.as_ref(),
        verification: briefing.verification,
        deterministic: &deterministic,
        template: request.template.as_ref(),
        action_types: &action_types,
        memory: briefing.memory,
    };
    let mut session = Session { advisor, record: ModelRecord::default(), tokens: 0 };
    let levels: &[Level] = match advisor.depth {
        Depth::Agentic => &[Level::Agentic, Level::OneShot],
        Depth::OneShot => &[Level::OneShot],
    };
    let mut diagnosis = deterministic.clone();
    for level in levels {
        let level_deadline = match level {
            Level::Agentic => deadline.checked_sub(advisor.budget.time / ONE_SHOT_SHARE).unwrap_or(deadline),
            _ => deadline,
        };
        let asked = match level {
            Level::Agentic => session.agentic(target, &offered, &context, &facts, &action_types, level_deadline).await,
            _ => session.one_shot(&facts, &action_types, level_deadline).await,
        };
        let answer = match asked {
            Ok(answer) => answer,
            Err(reason) => {
                session.record.fallbacks.push(format!("{level}: {reason}"));
                continue;
            }
        };
        let ground = vet::Ground {
            engine,
            profile: context.profile.as_ref(),
            action_types: action_types.clone(),
            provider: advisor.model.provider.to_string(),
        };
        let added = merge(target, request, &specialists, &answer, &ground, &mut diagnosis, &mut session.record).await;
        if added {
            diagnosis.level = *level;
            break;
        }
        session.record.fallbacks.push(format!("{level}: the answer gave no cause or candidate that passed the checks"));
    }
    // Argue and select on the deepest path, when the model's part gave something: a model that
    // was down, or whose every proposal was refused, is not asked to judge either.
    let answered = diagnosis.level != Level::Deterministic;
    if answered && advisor.depth == Depth::Agentic && !advisor.judges.is_empty() && diagnosis.candidates.len() >= 2 {
        session.judge(&specialists, request, &mut diagnosis, deadline).await;
    }
    diagnosis.elapsed_ms = deterministic.elapsed_ms + millis(started.elapsed());
    diagnosis.model = Some(session.record);
    diagnosis
}

/// What the model made of an email no policy matched, and the record of asking.
pub struct Classified {
    pub reading: Result<classify::Classification, String>,
    pub record: ModelRecord,
}

/// Asks the model once whether `alert` is an alert about one of `targets`, and how a policy
/// would recognise and verify it. Spends through the advisor's ledger like any call.
pub async fn classify_email(
    advisor: &Advisor<'_>,
    alert: &crate::diagnose::AlertContext,
    targets: &[classify::KnownTarget],
) -> Classified {
    let deadline = Instant::now() + advisor.budget.time / ONE_SHOT_SHARE;
    let mut session = Session { advisor, record: ModelRecord::default(), tokens: 0 };
    let system = classify::system(targets);
    let user = session.scrub(&classify::user(alert));
    session.note("classify_system", &system);
    session.note("classify_user", &user);
    let exchange = Exchange::json_question(system, user, 2048, 0.0);
    let reading = match session.send(advisor.model, &exchange, Level::Classify, deadline).await {
        Ok(reply) => {
            session.note("classify", &reply.text());
            classify::read(&reply.text(), targets)
        }
        Err(reason) => Err(reason),
    };
    Classified { reading, record: session.record }
}

/// One diagnosis' conversation state: what was spent and recorded.
struct Session<'a> {
    advisor: &'a Advisor<'a>,
    record: ModelRecord,
    tokens: u64,
}

impl Session<'_> {
    /// Level 1: the model investigates with the tools.
    async fn agentic(
        &mut self,
        target: &Target,
        offered: &[&ToolPolicy],
        context: &ToolContext,
        facts: &prompt::Facts<'_>,
        action_types: &[String],
        deadline: Instant,
    ) -> Result<Answer, String> {
        let budget = self.advisor.budget;
        let system = prompt::system(action_types, true);
        let mut turns = vec![Turn::user(self.scrub(&prompt::user(facts)))];
        self.note("system", &system);
        self.note("user", &turns[0].text());
        let tools: Vec<_> = offered.iter().map(|tool| toolbox::spec(tool)).collect();
        let mut calls_made = 0u32;
        for turn in 0..budget.turns {
            let exchange = Exchange {
                system: system.clone(),
                turns: turns.clone(),
                tools: tools.clone(),
                max_tokens: 4096,
                temperature: 0.2,
                json: false,
            };
            let reply = self.send(self.advisor.model, &exchange, Level::Agentic, deadline).await?;
            let asked: Vec<_> = reply.calls().cloned().collect();
            self.note("assistant", &reply.text());
            turns.push(reply.clone());
            if asked.is_empty() {
                return answer::read(&reply.text());
            }
            let mut parts = Vec::new();
            for call in &asked {
                self.note("tool_call", &format!("{}({})", call.name, call.arguments));
                let result = if calls_made >= budget.tool_calls {
                    crate::llm::conversation::ToolResult {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        content: "the tool-call budget is spent: no more tools; answer now".into(),
                        is_error: true,
                    }
                } else {
                    calls_made += 1;
                    let mut result = toolbox::run(target, offered, call, context).await.result;
                    result.content = self.scrub(&result.content);
                    result
                };
                self.note("tool_result", &result.content);
                parts.push(Part::Result(result));
            }
            let last = turn + 2 >= budget.turns || calls_made >= budget.tool_calls;
            if last {
                parts.push(Part::text(
                    "No more tool calls are possible. Give your final answer now, as the JSON object.",
                ));
            }
            turns.push(Turn { role: Role::User, parts });
        }
        Err(format!("no answer within {} turns", budget.turns))
    }

    /// Level 2: one request, no tools.
    async fn one_shot(
        &mut self,
        facts: &prompt::Facts<'_>,
        action_types: &[String],
        deadline: Instant,
    ) -> Result<Answer, String> {
        let system = prompt::system(action_types, false);
        let user = self.scrub(&prompt::user(facts));
        self.note("system", &system);
        self.note("user", &user);
        let exchange = Exchange::json_question(system, user, 4096, 0.2);
        let reply = self.send(self.advisor.model, &exchange, Level::OneShot, deadline).await?;
        self.note("assistant", &reply.text());
        answer::read(&reply.text())
    }

    /// Argue and select: each judge scores every candidate on its specialist's criteria; the
    /// valid verdicts' mean total orders the candidates, unless none is valid or the top is a
    /// tie. Recorded in `record.judgement` either way.
    async fn judge(
        &mut self,
        specialists: &[&crate::policy::specialist::Specialist],
        request: &Request<'_>,
        diagnosis: &mut Diagnosis,
        deadline: Instant,
    ) {
        let weights: Vec<judge::Weights> =
            diagnosis.candidates.iter().map(|candidate| judge::weights_for(candidate, specialists)).collect();
        let labels: BTreeSet<String> = weights.iter().flatten().map(|(label, _)| label.clone()).collect();
        let system = judge::system(&labels);
        let user = self.scrub(&judge::user(request.facts.database, request.facts.environment, diagnosis));
        self.note("judge_system", &system);
        self.note("judge_user", &user);
        let exchange = Exchange::json_question(system, user, 2048, 0.2);
        let mut judgement = Judgement {
            deterministic: diagnosis.candidates.iter().map(|c| (c.title.clone(), c.score)).collect(),
            ..Judgement::default()
        };
        let mut valid = Vec::new();
        let judges = self.advisor.judges;
        for model in judges {
            let mut vote = JudgeVote { judge: format!("{}:{}", model.provider, model.name), ..JudgeVote::default() };
            match self.send(model, &exchange, Level::Judge, deadline).await {
                Ok(reply) => {
                    self.note("judge", &reply.text());
                    match judge::read(&reply.text(), diagnosis.candidates.len(), &labels) {
                        Ok(scores) => {
                            vote.totals = scores
                                .iter()
                                .zip(&weights)
                                .map(|(scores, weights)| judge::total(scores, weights))
                                .collect();
                            vote.reasoning = scores.into_iter().map(|scores| scores.reasoning).collect();
                            valid.push(vote.totals.clone());
                        }
                        Err(reason) => vote.error = Some(reason),
                    }
                }
                Err(reason) => vote.error = Some(reason),
            }
            judgement.judges.push(vote);
        }
        judgement.outcome = match judge::panel_totals(&valid) {
            None => "no judge gave a valid verdict: the deterministic scores stand".to_owned(),
            Some(totals) => match judge::tie(&totals) {
                Some(reason) => reason,
                None => {
                    judge::apply(diagnosis, &totals);
                    let best = &diagnosis.candidates[0];
                    format!(
                        "the panel ({} of {} valid) chose \"{}\" ({:.2})",
                        valid.len(),
                        judges.len(),
                        best.title,
                        best.score
                    )
                }
            },
        };
        self.record.judgement = Some(judgement);
    }

    /// Sends one request if the budget and the day's cost limit allow, and records the call.
    async fn send(
        &mut self,
        model: &Model,
        exchange: &Exchange,
        level: Level,
        deadline: Instant,
    ) -> Result<Turn, String> {
        let advisor = self.advisor;
        if self.tokens >= advisor.budget.tokens {
            return Err(format!("the token budget ({}) is spent", advisor.budget.tokens));
        }
        let spent = advisor.ledger.spent_today();
        if spent >= advisor.daily_limit {
            let error = LlmError::CostLimit { provider: model.provider, limit: advisor.daily_limit, spent };
            return Err(error.to_string());
        }
        let started = Instant::now();
        let outcome = model.send(exchange, deadline).await;
        let mut call = ModelCall {
            provider: model.provider.to_string(),
            model: model.name.clone(),
            level,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            ms: millis(started.elapsed()),
            tools: Vec::new(),
            prompt_sha256: String::new(),
            error: None,
        };
        let result = match outcome {
            Ok(answered) => {
                let usage = answered.reply.usage;
                let answered_by =
                    if answered.reply.model.is_empty() { model.name.clone() } else { answered.reply.model.clone() };
                call.input_tokens = usage.input_tokens;
                call.output_tokens = usage.output_tokens;
                call.cost_usd = advisor.prices.cost(model.provider, &answered_by, usage);
                call.tools = answered.reply.turn.calls().map(|c| c.name.clone()).collect();
                call.prompt_sha256 = answered.prompt_sha256;
                self.tokens += usage.total();
                Ok(answered.reply.turn)
            }
            Err(error) => {
                call.error = Some(error.to_string());
                Err(error.to_string())
            }
        };
        advisor.ledger.record(&call);
        self.record.calls.push(call);
        result
    }

    /// `text` without this configuration's secrets or anything shaped like one.
    fn scrub(&self, text: &str) -> String {
        self.advisor.redactor.scrub(text).into_owned()
    }

    /// Keeps a message for review, bounded and without secrets.
    fn note(&mut self, role: &str, text: &str) {
        const KEPT: usize = 8000;
        let text: String = self.advisor.redactor.scrub(text).chars().take(KEPT).collect();
        self.record.transcript.push(TranscriptEntry { role: role.to_owned(), text });
    }
}

/// Adds the answer's causes and surviving candidates to `diagnosis`; true when anything was
/// added. Refused candidates go to `record.dropped` with their reasons.
async fn merge(
    target: &Target,
    request: &Request<'_>,
    specialists: &[&crate::policy::specialist::Specialist],
    answer: &Answer,
    ground: &vet::Ground<'_>,
    diagnosis: &mut Diagnosis,
    record: &mut ModelRecord,
) -> bool {
    let tools_seen: BTreeSet<String> = diagnosis
        .tools
        .iter()
        .map(|tool| tool.name.clone())
        .chain(record.calls.iter().flat_map(|call| call.tools.clone()))
        .collect();
    let mut added = false;
    let named_before = diagnosis.named_cause().is_some();
    for cause in &answer.root_causes {
        let Ok((code, confidence)) = answer::cause(cause) else { continue };
        if code == RootCause::Unknown || diagnosis.root_causes.iter().any(|finding| finding.cause == code) {
            continue;
        }
        let evidence = cause
            .evidence
            .iter()
            .filter(|evidence| tools_seen.contains(&evidence.tool))
            .map(|evidence| Evidence {
                tool: evidence.tool.clone(),
                row: evidence
                    .row
                    .iter()
                    .filter_map(|(column, value)| answer::value_text(value).map(|text| (column.clone(), text)))
                    .collect(),
                why: prompt::clean(&evidence.why, prompt::FIELD_CAP),
            })
            .collect();
        diagnosis.root_causes.push(Finding {
            cause: code,
            confidence,
            summary: prompt::clean(&cause.summary, answer::MAX_TEXT),
            specialist: format!("model:{}", ground.provider),
            evidence,
        });
        added = true;
    }
    if added && !named_before {
        diagnosis.root_causes.retain(|finding| finding.cause != RootCause::Unknown);
    }
    diagnosis.root_causes.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let alert_fields = request.alert.map(|alert| alert.fields.clone()).unwrap_or_default();
    for proposed in &answer.candidates {
        let dropped = |reason: String| Dropped {
            title: prompt::clean(&proposed.title, 200),
            statements: proposed.forward.iter().map(|sql| prompt::clean(sql, 500)).collect(),
            reason,
        };
        let vetted = match vet::vet(proposed, ground) {
            Ok(vetted) => vetted,
            Err(reason) => {
                record.dropped.push(dropped(reason));
                continue;
            }
        };
        let mut drafted: Drafted =
            match candidates::draft(target, &request.facts, &vetted.basis, &vetted.fix, &alert_fields).await {
                Ok(drafted) => drafted,
                Err(reason) => {
                    record.dropped.push(dropped(format!("cannot be made concrete: {reason}")));
                    continue;
                }
            };
        if diagnosis.candidates.iter().any(|known| known.forward == drafted.candidate.forward) {
            continue;
        }
        let specialist = specialists
            .iter()
            .find(|specialist| specialist.causes.iter().any(|rule| rule.cause == vetted.basis.cause))
            .or(specialists.first())
            .copied();
        score::score(&mut drafted, specialist, &request.history);
        diagnosis.candidates.push(drafted.candidate);
        added = true;
    }
    rank(diagnosis);
    added
}

/// Candidates follow their causes' ranking, best score first within a cause, at most five.
fn rank(diagnosis: &mut Diagnosis) {
    let causes: Vec<RootCause> = diagnosis.root_causes.iter().map(|finding| finding.cause).collect();
    let position =
        |candidate: &Candidate| causes.iter().position(|cause| *cause == candidate.root_cause).unwrap_or(causes.len());
    diagnosis.candidates.sort_by(|a, b| position(a).cmp(&position(b)).then(b.score.total_cmp(&a.score)));
    diagnosis.candidates.truncate(super::MAX_CANDIDATES);
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}
