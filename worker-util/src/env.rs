//! Configuration from the Worker's environment: a name is looked up as a secret first (`wrangler
//! secret put`), then as a plain var (`[vars]`, `.dev.vars`), so either works for any setting. An
//! empty value counts as unset, so a blank line in a vars file never overrides a default.

use worker::Env;

/// The value of `name` (secret, else var), or `None` when unset or empty.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

/// The value of `name`, or `default` when unset or empty.
pub fn var_or(env: &Env, name: &str, default: &str) -> String {
    var(env, name).unwrap_or_else(|| default.to_string())
}

/// `name` as a whole number, or `default` when unset or not a number.
pub fn number(env: &Env, name: &str, default: u64) -> u64 {
    var(env, name)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}
