//! The model table (generated from data/models.csv by build.rs), model-name lookup, routing of a
//! model name to a provider, and request cost from token usage.

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenRouter,
    OpenAi,
    Anthropic,
    Groq,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::OpenRouter,
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Groq,
    ];

    /// Name used in headers, logs, the provider_keys table and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenRouter => "openrouter",
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Groq => "groq",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Public API base URL (overridable by configuration, e.g. to a local fake in tests).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenRouter => "https://openrouter.ai/api/v1",
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com/v1",
            Provider::Groq => "https://api.groq.com/openai/v1",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// The name clients use (`gpt-4o`, `claude-3-haiku`, `mixtral-8x7b`).
    pub name: &'static str,
    pub provider: Provider,
    /// The provider's own model id.
    pub provider_model: &'static str,
    /// OpenRouter's `vendor/model` id for the same model.
    pub openrouter_id: &'static str,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
}

include!(concat!(env!("OUT_DIR"), "/models_table.rs"));

/// Finds a model by any of its names; dated snapshots (`gpt-4o-2024-08-06`) match their base
/// model by longest prefix.
pub fn lookup(model: &str) -> Option<&'static ModelInfo> {
    let model = model.trim();
    let exact = MODELS
        .iter()
        .find(|m| m.name == model || m.provider_model == model || m.openrouter_id == model);
    exact.or_else(|| {
        MODELS
            .iter()
            .filter(|m| {
                model
                    .strip_prefix(m.name)
                    .is_some_and(|rest| rest.starts_with('-'))
                    || model
                        .strip_prefix(m.openrouter_id)
                        .is_some_and(|rest| rest.starts_with(['-', ':']))
            })
            .max_by_key(|m| m.name.len())
    })
}

/// Where a request goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub provider: Provider,
    /// The model id sent to that provider.
    pub upstream_model: String,
}

/// Guesses the native provider of a bare model name missing from the table.
fn native_provider_by_pattern(model: &str) -> Option<Provider> {
    let m = model.to_ascii_lowercase();
    if [
        "gpt-",
        "o1",
        "o3",
        "o4",
        "chatgpt-",
        "text-embedding-",
        "davinci",
        "babbage",
    ]
    .iter()
    .any(|p| m.starts_with(p))
    {
        Some(Provider::OpenAi)
    } else if m.starts_with("claude-") {
        Some(Provider::Anthropic)
    } else if ["llama", "mixtral", "gemma", "qwen", "deepseek-r1-distill"]
        .iter()
        .any(|p| m.starts_with(p))
    {
        Some(Provider::Groq)
    } else {
        None
    }
}

/// Routes a model name: `vendor/model` goes to OpenRouter; a native name goes to its provider
/// when the project has a key for it (`has_key`), else to OpenRouter under OpenRouter's id.
/// Providers whose wire format the proxy does not speak natively (`direct_ok` false) go to OpenRouter.
pub fn route(
    model: &str,
    has_key: impl Fn(Provider) -> bool,
    direct_ok: impl Fn(Provider) -> bool,
) -> Result<Route, ApiError> {
    let model = model.trim();
    if model.contains('/') {
        return Ok(Route {
            provider: Provider::OpenRouter,
            upstream_model: model.to_string(),
        });
    }
    let info = lookup(model);
    let native = info
        .map(|m| m.provider)
        .or_else(|| native_provider_by_pattern(model));
    let Some(native) = native else {
        return Err(ApiError::invalid_request(
            format!("The model '{model}' is unknown. Use an OpenRouter 'vendor/model' name, or a native OpenAI, Anthropic or Groq model name."),
            Some("model"),
            "model_not_found",
        ));
    };
    if has_key(native) && direct_ok(native) {
        let upstream_model = match info {
            Some(m) if m.name == model => m.provider_model.to_string(),
            _ => model.to_string(),
        };
        return Ok(Route {
            provider: native,
            upstream_model,
        });
    }
    let upstream_model = match info {
        Some(m) if m.name == model || m.provider_model == model => m.openrouter_id.to_string(),
        _ => format!(
            "{}/{model}",
            match native {
                Provider::OpenAi => "openai",
                Provider::Anthropic => "anthropic",
                Provider::Groq => "meta-llama",
                Provider::OpenRouter => unreachable!("OpenRouter is never a native provider"),
            }
        ),
    };
    Ok(Route {
        provider: Provider::OpenRouter,
        upstream_model,
    })
}

/// Token counts of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// Reads OpenAI's `usage` object (`prompt_tokens`, `completion_tokens`; embeddings have only the first).
    pub fn from_json(usage: &serde_json::Value) -> Option<Usage> {
        let prompt_tokens = usage.get("prompt_tokens")?.as_u64()?;
        let completion_tokens = usage
            .get("completion_tokens")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        Some(Usage {
            prompt_tokens,
            completion_tokens,
        })
    }

    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The list-price cost in USD of `usage` on `model`, if the model is in the table.
pub fn cost_usd(model: &str, usage: Usage) -> Option<f64> {
    let m = lookup(model)?;
    Some(
        (usage.prompt_tokens as f64 * m.input_usd_per_mtok
            + usage.completion_tokens as f64 * m.output_usd_per_mtok)
            / 1_000_000.0,
    )
}

/// The cost of an upstream answer: the provider's own reported charge when it gives one
/// (OpenRouter's `usage.cost`), else the list price of `model` for its token usage.
pub fn answer_cost_usd(model: &str, usage_json: &serde_json::Value) -> Option<f64> {
    if let Some(c) = usage_json.get("cost").and_then(|c| c.as_f64()) {
        return Some(c);
    }
    cost_usd(model, Usage::from_json(usage_json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_generated_from_the_data_file() {
        let csv = include_str!("../data/models.csv");
        let rows = csv
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(MODELS.len(), rows);
        let m = lookup("claude-3-haiku").unwrap();
        assert_eq!(m.provider, Provider::Anthropic);
        assert_eq!(m.provider_model, "claude-3-haiku-20240307");
    }

    #[test]
    fn looks_up_aliases_snapshots_and_openrouter_ids() {
        assert_eq!(lookup("gpt-4o-2024-08-06").unwrap().name, "gpt-4o");
        assert_eq!(
            lookup("gpt-4o-mini-2024-07-18").unwrap().name,
            "gpt-4o-mini"
        );
        assert_eq!(lookup("openai/gpt-4o").unwrap().name, "gpt-4o");
        assert_eq!(lookup("mixtral-8x7b-32768").unwrap().name, "mixtral-8x7b");
        assert!(lookup("no-such-model").is_none());
    }

    #[test]
    fn computes_cost_from_prices() {
        let c = cost_usd(
            "gpt-4o",
            Usage {
                prompt_tokens: 1000,
                completion_tokens: 500,
            },
        )
        .unwrap();
        assert!((c - (1000.0 * 2.5 + 500.0 * 10.0) / 1e6).abs() < 1e-12);
        assert_eq!(
            cost_usd(
                "text-embedding-3-small",
                Usage {
                    prompt_tokens: 1_000_000,
                    completion_tokens: 0
                }
            ),
            Some(0.02)
        );
        assert_eq!(cost_usd("mystery", Usage::default()), None);
        let usage = serde_json::json!({"prompt_tokens": 1000, "completion_tokens": 0});
        assert_eq!(answer_cost_usd("openai/gpt-4o-mini", &usage), Some(0.00015));
        let usage = serde_json::json!({"prompt_tokens": 1000, "completion_tokens": 0, "cost": 0.5});
        assert_eq!(answer_cost_usd("openai/gpt-4o-mini", &usage), Some(0.5));
    }

    #[test]
    fn routes_vendor_names_to_openrouter() {
        let r = route("meta-llama/llama-3-8b-instruct", |_| true, |_| true).unwrap();
        assert_eq!(
            r,
            Route {
                provider: Provider::OpenRouter,
                upstream_model: "meta-llama/llama-3-8b-instruct".into()
            }
        );
    }

    #[test]
    fn routes_native_names_by_project_keys() {
        let with = |p: Provider| move |q: Provider| q == p;
        let r = route("gpt-4o", with(Provider::OpenAi), |_| true).unwrap();
        assert_eq!(
            (r.provider, r.upstream_model.as_str()),
            (Provider::OpenAi, "gpt-4o")
        );
        let r = route("mixtral-8x7b", with(Provider::Groq), |_| true).unwrap();
        assert_eq!(
            (r.provider, r.upstream_model.as_str()),
            (Provider::Groq, "mixtral-8x7b-32768")
        );
        let r = route("gpt-4o", |_| false, |_| true).unwrap();
        assert_eq!(
            (r.provider, r.upstream_model.as_str()),
            (Provider::OpenRouter, "openai/gpt-4o")
        );
        let r = route("claude-3-haiku", with(Provider::Anthropic), |p| {
            p != Provider::Anthropic
        })
        .unwrap();
        assert_eq!(
            (r.provider, r.upstream_model.as_str()),
            (Provider::OpenRouter, "anthropic/claude-3-haiku")
        );
        let r = route("gpt-5-preview", |_| false, |_| true).unwrap();
        assert_eq!(r.upstream_model, "openai/gpt-5-preview");
        assert_eq!(
            route("frobnicator", |_| true, |_| true)
                .unwrap_err()
                .code
                .as_deref(),
            Some("model_not_found")
        );
    }
}
