//! What a call costs: the response's own token counts times a price per million tokens, looked
//! up by model name (the longest prefix that matches) in a table `llm.prices` can override.

use std::collections::BTreeMap;

use super::conversation::Usage;
use crate::config::LlmProvider;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// List prices when this was written, by model-name prefix. A model none of these prefixes
/// match is charged at its provider's row (the reference's rates), so an unknown model is never
/// free.
const LIST: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price { input: 5.0, output: 25.0 }),
    ("claude-opus", Price { input: 15.0, output: 75.0 }),
    ("claude-sonnet", Price { input: 3.0, output: 15.0 }),
    ("claude-haiku", Price { input: 1.0, output: 5.0 }),
    ("gpt-4o-mini", Price { input: 0.15, output: 0.6 }),
    ("gpt-4o", Price { input: 2.5, output: 10.0 }),
    ("gpt-4.1-mini", Price { input: 0.4, output: 1.6 }),
    ("gpt-4.1", Price { input: 2.0, output: 8.0 }),
    ("gpt-5-mini", Price { input: 0.25, output: 2.0 }),
    ("gpt-5", Price { input: 1.25, output: 10.0 }),
    ("gemini-2.5-flash", Price { input: 0.3, output: 2.5 }),
    ("gemini-2.5-pro", Price { input: 1.25, output: 10.0 }),
];

fn provider_row(provider: LlmProvider) -> Price {
    match provider {
        LlmProvider::Claude => Price { input: 3.0, output: 15.0 },
        LlmProvider::OpenAi => Price { input: 2.5, output: 10.0 },
        LlmProvider::Gemini => Price { input: 0.3, output: 2.5 },
        // A local server costs nothing per token, unless the table says so.
        LlmProvider::Local | LlmProvider::None => Price { input: 0.0, output: 0.0 },
    }
}

/// The price table: the list, then the user's rows over it.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    overrides: BTreeMap<String, Price>,
}

impl Prices {
    /// The list prices with `overrides` (model-name prefix → price) taking precedence.
    pub fn new(overrides: BTreeMap<String, Price>) -> Prices {
        Prices { overrides }
    }

    /// The list prices under the user's `llm.prices`.
    pub fn configured(overrides: &BTreeMap<String, crate::config::PriceOverride>) -> Prices {
        Prices::new(
            overrides
                .iter()
                .map(|(prefix, price)| (prefix.clone(), Price { input: price.input, output: price.output }))
                .collect(),
        )
    }

    /// The price of `model` on `provider`.
    pub fn of(&self, provider: LlmProvider, model: &str) -> Price {
        let longest = |rows: &mut dyn Iterator<Item = (&str, Price)>| {
            rows.filter(|(prefix, _)| model.starts_with(prefix)).max_by_key(|(prefix, _)| prefix.len()).map(|(_, p)| p)
        };
        longest(&mut self.overrides.iter().map(|(prefix, price)| (prefix.as_str(), *price)))
            .or_else(|| longest(&mut LIST.iter().map(|(prefix, price)| (*prefix, *price))))
            .unwrap_or_else(|| provider_row(provider))
    }

    /// What `usage` cost on `model`, in US dollars.
    pub fn cost(&self, provider: LlmProvider, model: &str, usage: Usage) -> f64 {
        let price = self.of(provider, model);
        (usage.input_tokens as f64 * price.input + usage.output_tokens as f64 * price.output) / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins_and_overrides_come_first() {
        let prices = Prices::default();
        assert_eq!(prices.of(LlmProvider::OpenAi, "gpt-4o-mini-2024-07-18").input, 0.15);
        assert_eq!(prices.of(LlmProvider::OpenAi, "gpt-4o-2024-08-06").input, 2.5);
        assert_eq!(prices.of(LlmProvider::Claude, "claude-next").output, 15.0, "unknown: the provider's row");
        assert_eq!(prices.of(LlmProvider::Local, "qwen3").input, 0.0);
        let cost = prices.cost(
            LlmProvider::Claude,
            "claude-sonnet-4-5-20250929",
            Usage { input_tokens: 1_000_000, output_tokens: 100_000 },
        );
        assert!((cost - 4.5).abs() < 1e-9, "{cost}");
        let ours = Prices::new(BTreeMap::from([("qwen".to_owned(), Price { input: 0.1, output: 0.2 })]));
        assert_eq!(ours.of(LlmProvider::Local, "qwen3").output, 0.2);
    }
}
