//! Translation between OpenAI's chat completions and Anthropic's Messages API (pure, no I/O):
//! requests one way (system, multi-turn, tools, images, max_tokens, stop, temperature), answers
//! and streamed events the other, so a client speaking OpenAI never sees Anthropic's format.

use crate::error::ApiError;
use crate::sse::{data_event, SseEvent, SseParser};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `anthropic-version` header the translation is written against.
pub const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; used when the client gives none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

fn unsupported(param: &str, why: &str) -> ApiError {
    ApiError::invalid_request(
        format!("'{param}' is not supported for Anthropic models: {why}."),
        Some(param),
        "unsupported_parameter",
    )
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message, Some(param), "invalid_value")
}

/// Translates a validated OpenAI chat request body into an Anthropic Messages request.
pub fn to_messages_request(
    body: &Map<String, Value>,
    upstream_model: &str,
) -> Result<Value, ApiError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));

    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages", "'messages' must be an array."))?;
    let (system, turns) = translate_messages(messages)?;
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(turns));

    let max_tokens = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .filter(|v| !v.is_null());
    let max_tokens = match max_tokens {
        None => DEFAULT_MAX_TOKENS,
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid("max_tokens", "'max_tokens' must be a positive integer."))?,
    };
    out.insert("max_tokens".into(), json!(max_tokens));

    if let Some(t) = body.get("temperature").filter(|v| !v.is_null()) {
        let t = t
            .as_f64()
            .ok_or_else(|| invalid("temperature", "'temperature' must be a number."))?;
        if !(0.0..=1.0).contains(&t) {
            return Err(invalid(
                "temperature",
                format!("'temperature' is {t}; Anthropic models accept 0 to 1."),
            ));
        }
        out.insert("temperature".into(), json!(t));
    }
    if let Some(p) = body.get("top_p").filter(|v| !v.is_null()) {
        out.insert("top_p".into(), p.clone());
    }
    match body.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            out.insert("stop_sequences".into(), Value::Array(list.clone()));
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "'stop' must be a string or an array of strings.",
            ))
        }
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(n) = body.get("n").and_then(Value::as_u64) {
        if n != 1 {
            return Err(unsupported("n", "Anthropic returns one choice per request"));
        }
    }
    for param in ["logprobs", "top_logprobs", "logit_bias"] {
        if body
            .get(param)
            .is_some_and(|v| !v.is_null() && *v != json!(false))
        {
            return Err(unsupported(param, "the Messages API has no equivalent"));
        }
    }
    if let Some(format) = body.get("response_format").and_then(|f| f.get("type")) {
        if format != "text" {
            return Err(unsupported(
                "response_format",
                "use a tool with an input schema for structured output",
            ));
        }
    }

    let tools = translate_tools(body)?;
    let tool_choice = translate_tool_choice(body)?;
    if let Some(tools) = tools {
        out.insert("tools".into(), tools);
    }
    if let Some(choice) = tool_choice {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out))
}

/// Splits OpenAI messages into Anthropic's top-level system text and alternating user/assistant
/// turns: tool results become `tool_result` blocks in a user turn, assistant tool calls become
/// `tool_use` blocks, and consecutive messages of the same role are merged.
fn translate_messages(messages: &[Value]) -> Result<(Vec<String>, Vec<Value>), ApiError> {
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let param = format!("messages[{i}]");
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.push(text_of(m.get("content"), &param)?);
                continue;
            }
            "user" => ("user", user_blocks(m.get("content"), &param)?),
            "assistant" => ("assistant", assistant_blocks(m, &param)?),
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(&param, format!("'{param}.tool_call_id' is required."))
                    })?;
                let content = text_of(m.get("content"), &param)?;
                (
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": id, "content": content})],
                )
            }
            "function" => {
                return Err(unsupported(
                    &param,
                    "legacy 'function' messages; use 'tool' messages with tool_call_id",
                ))
            }
            other => return Err(invalid(&param, format!("Unknown role '{other}'."))),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if last == role => existing.extend(blocks),
            _ => turns.push((role.to_string(), blocks)),
        }
    }
    if turns.is_empty() {
        return Err(invalid(
            "messages",
            "Anthropic models need at least one user or assistant message besides the system prompt.",
        ));
    }
    let turns = turns
        .into_iter()
        .map(|(role, blocks)| json!({ "role": role, "content": simplify(blocks) }))
        .collect();
    Ok((system, turns))
}

/// A single text block is sent as a plain string, as Anthropic's own examples do.
fn simplify(blocks: Vec<Value>) -> Value {
    if let [only] = blocks.as_slice() {
        if only["type"] == "text" {
            return only["text"].clone();
        }
    }
    Value::Array(blocks)
}

/// Text of a string or an array of text parts.
fn text_of(content: Option<&Value>, param: &str) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(
                |p| match (p.get("type").and_then(Value::as_str), p.get("text")) {
                    (Some("text"), Some(Value::String(t))) => Ok(t.as_str()),
                    _ => Err(invalid(
                        param,
                        format!("'{param}' may hold only text parts here."),
                    )),
                },
            )
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| texts.join("\n")),
        Some(_) => Err(invalid(
            param,
            format!("'{param}.content' must be a string or an array."),
        )),
    }
}

fn user_blocks(content: Option<&Value>, param: &str) -> Result<Vec<Value>, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => {
                    Ok(json!({"type": "text", "text": p.get("text").cloned().unwrap_or(json!(""))}))
                }
                Some("image_url") => {
                    let url = p
                        .get("image_url")
                        .and_then(|i| i.get("url").or(Some(i)))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            invalid(param, format!("'{param}' has an image part without a url."))
                        })?;
                    image_block(url, param)
                }
                other => Err(unsupported(
                    param,
                    &format!("content parts of type {}", other.unwrap_or("(none)")),
                )),
            })
            .collect(),
        Some(_) => Err(invalid(
            param,
            format!("'{param}.content' must be a string or an array."),
        )),
    }
}

/// `data:` URLs become base64 image sources, anything else a URL source.
fn image_block(url: &str, param: &str) -> Result<Value, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid(param, "An image data URL has no ',' before its data."))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| invalid(param, "Image data URLs must be base64-encoded."))?;
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}
        }));
    }
    Ok(json!({"type": "image", "source": {"type": "url", "url": url}}))
}

fn assistant_blocks(m: &Value, param: &str) -> Result<Vec<Value>, ApiError> {
    let mut blocks = Vec::new();
    let text = text_of(m.get("content"), param)?;
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for call in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = call.get("function").unwrap_or(&Value::Null);
        let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
        let arguments = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
        let input: Value = if arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(arguments).map_err(|_| {
                invalid(
                    param,
                    format!("'{param}.tool_calls' has arguments that are not valid JSON."),
                )
            })?
        };
        blocks.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(json!("")),
            "name": name,
            "input": input,
        }));
    }
    Ok(blocks)
}

/// OpenAI `tools` (or legacy `functions`) to Anthropic tools with `input_schema`.
fn translate_tools(body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let functions: Vec<&Value> = if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        tools
            .iter()
            .map(|t| {
                if t.get("type").and_then(Value::as_str) != Some("function") {
                    return Err(unsupported("tools", "tools other than functions"));
                }
                t.get("function")
                    .ok_or_else(|| invalid("tools", "Each tool needs a 'function'."))
            })
            .collect::<Result<_, _>>()?
    } else if let Some(functions) = body.get("functions").and_then(Value::as_array) {
        functions.iter().collect()
    } else {
        return Ok(None);
    };
    let tools = functions
        .into_iter()
        .map(|f| {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tools", "Each function needs a 'name'."))?;
            let mut tool = json!({
                "name": name,
                "input_schema": f.get("parameters").cloned()
                    .unwrap_or(json!({"type": "object", "properties": {}})),
            });
            if let Some(d) = f.get("description") {
                tool["description"] = d.clone();
            }
            Ok(tool)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Some(Value::Array(tools)))
}

fn translate_tool_choice(body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let choice = body
        .get("tool_choice")
        .or_else(|| body.get("function_call"));
    let mut out = match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(invalid(
                    "tool_choice",
                    format!("Unknown tool_choice '{other}'."),
                ))
            }
        }),
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tool_choice", "tool_choice must name a function."))?;
            Some(json!({"type": "tool", "name": name}))
        }
        Some(_) => {
            return Err(invalid(
                "tool_choice",
                "tool_choice must be a string or an object.",
            ))
        }
    };
    if body.get("parallel_tool_calls") == Some(&json!(false)) {
        let c = out.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = json!(true);
        }
    }
    Ok(out)
}

/// Anthropic's `stop_reason` as an OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI `usage` from Anthropic's: prompt tokens include cache reads and writes. The counts
/// come from the provider's answer, so sums saturate rather than overflow.
pub fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("input_tokens")
        .saturating_add(n("cache_read_input_tokens"))
        .saturating_add(n("cache_creation_input_tokens"));
    let completion = n("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

fn chat_id(message_id: &str) -> String {
    format!("chatcmpl-{message_id}")
}

/// Translates an Anthropic Messages answer into an OpenAI chat completion.
pub fn to_chat_completion(resp: &Value, created_secs: u64) -> Value {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in resp
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {
                    "name": block["name"],
                    "arguments": block.get("input").unwrap_or(&json!({})).to_string(),
                },
            })),
            _ => {} // thinking and other blocks have no OpenAI equivalent
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": chat_id(resp["id"].as_str().unwrap_or("msg")),
        "object": "chat.completion",
        "created": created_secs,
        "model": resp["model"],
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(resp["stop_reason"].as_str().unwrap_or("end_turn")),
        }],
        "usage": usage(resp.get("usage").unwrap_or(&Value::Null)),
    })
}

/// Turns Anthropic stream events into OpenAI `chat.completion.chunk` events, one event at a time.
/// The usage chunk is always produced (the proxy needs it for costs; the stream tap hides it
/// from clients that did not ask for it), then `[DONE]`.
#[derive(Debug, Default)]
pub struct StreamTranslator {
    id: String,
    model: Value,
    created: u64,
    usage: Map<String, Value>,
    /// Anthropic content-block index -> OpenAI tool-call index.
    tool_indexes: Vec<(u64, usize)>,
    finished: bool,
}

impl StreamTranslator {
    pub fn new(created_secs: u64) -> Self {
        StreamTranslator {
            created: created_secs,
            ..Default::default()
        }
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        })
        .to_string()
    }

    /// Takes one event's `data` and returns the OpenAI `data:` payloads to send for it, `[DONE]`
    /// included at the end.
    pub fn event(&mut self, data: &Value) -> Vec<String> {
        if self.finished {
            return Vec::new();
        }
        let Ok(event) = StreamEvent::deserialize(data) else {
            return Vec::new();
        };
        match event {
            StreamEvent::MessageStart { message } => {
                self.id = chat_id(&message.id);
                self.model = message.model;
                self.usage.extend(message.usage.unwrap_or_default());
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            StreamEvent::ContentBlockStart {
                index: block,
                content_block: ContentBlock::ToolUse { id, name },
            } => {
                let index = self.tool_indexes.len();
                self.tool_indexes.push((block, index));
                vec![self.chunk(
                    json!({"tool_calls": [{
                        "index": index,
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }]}),
                    None,
                )]
            }
            StreamEvent::ContentBlockDelta {
                delta: Delta::Text { text },
                ..
            } => vec![self.chunk(json!({"content": text}), None)],
            StreamEvent::ContentBlockDelta {
                index: block,
                delta: Delta::InputJson { partial_json },
            } => {
                let Some(&(_, index)) = self.tool_indexes.iter().find(|(b, _)| *b == block) else {
                    return Vec::new();
                };
                vec![self.chunk(
                    json!({"tool_calls": [{
                        "index": index,
                        "function": {"arguments": partial_json},
                    }]}),
                    None,
                )]
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.usage.extend(usage.unwrap_or_default());
                match delta.stop_reason {
                    Some(reason) => vec![self.chunk(json!({}), Some(finish_reason(&reason)))],
                    None => Vec::new(),
                }
            }
            StreamEvent::MessageStop => {
                self.finished = true;
                let usage_chunk = json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage(&Value::Object(self.usage.clone())),
                });
                vec![usage_chunk.to_string(), "[DONE]".to_string()]
            }
            StreamEvent::Error { error } => {
                // Ends the stream without [DONE], so the partial answer is never cached.
                self.finished = true;
                vec![json!({"error": {
                    "message": format!("anthropic: {}", error.message.as_deref().unwrap_or("stream error")),
                    "type": "server_error",
                    "code": error.kind,
                }})
                .to_string()]
            }
            // Text block starts, block stops, pings and event types added after this was written.
            _ => Vec::new(),
        }
    }
}

/// Anthropic's stream events, as far as the translation reads them (unknown fields are ignored,
/// unknown event and block types are `Other`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: Delta,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<Map<String, Value>>,
    },
    MessageStop,
    Error {
        error: StreamError,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct StartedMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: Value,
    #[serde(default)]
    usage: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock {
    ToolUse {
        #[serde(default)]
        id: Value,
        #[serde(default)]
        name: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamError {
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    message: Option<String>,
}

/// Byte-level adapter for a streamed answer: Anthropic SSE bytes in, OpenAI SSE bytes out.
#[derive(Debug)]
pub struct SseTranslator {
    parser: SseParser,
    translator: StreamTranslator,
}

impl SseTranslator {
    pub fn new(created_secs: u64) -> Self {
        SseTranslator {
            parser: SseParser::new(),
            translator: StreamTranslator::new(created_secs),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let events = self.parser.feed(bytes);
        self.translate(events)
    }

    /// Whatever a stream that ended without a final blank line still holds.
    pub fn finish(&mut self) -> Vec<u8> {
        let events: Vec<SseEvent> = self.parser.finish().into_iter().collect();
        self.translate(events)
    }

    fn translate(&mut self, events: Vec<SseEvent>) -> Vec<u8> {
        let mut out = String::new();
        for event in events {
            let Some(data) = event
                .data
                .and_then(|d| serde_json::from_str::<Value>(&d).ok())
            else {
                continue;
            };
            for payload in self.translator.event(&data) {
                out.push_str(&data_event(&payload));
            }
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value) -> Result<Value, ApiError> {
        to_messages_request(body.as_object().unwrap(), "claude-3-haiku-20240307")
    }

    /// Table: OpenAI request -> the Anthropic request it must become.
    #[test]
    fn request_translation_table() {
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "plain user message, default max_tokens",
                json!({"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Hi"}]}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096,
                       "messages": [{"role": "user", "content": "Hi"}]}),
            ),
            (
                "system prompts lifted to the top, joined",
                json!({"model": "m", "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                    {"role": "user", "content": "Hi"}]}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096,
                       "system": "Be brief.\n\nUse French.",
                       "messages": [{"role": "user", "content": "Hi"}]}),
            ),
            (
                "multi-turn with consecutive user messages merged",
                json!({"model": "m", "messages": [
                    {"role": "user", "content": "A"}, {"role": "user", "content": "B"},
                    {"role": "assistant", "content": "C"}, {"role": "user", "content": "D"}]}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096, "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
                    {"role": "assistant", "content": "C"},
                    {"role": "user", "content": "D"}]}),
            ),
            (
                "sampling: max_tokens, stop string, temperature, top_p, user",
                json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}],
                       "max_tokens": 50, "stop": "END", "temperature": 0.2, "top_p": 0.9, "user": "u-1"}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 50,
                       "stop_sequences": ["END"], "temperature": 0.2, "top_p": 0.9,
                       "metadata": {"user_id": "u-1"},
                       "messages": [{"role": "user", "content": "Hi"}]}),
            ),
            (
                "max_completion_tokens wins, stop array, stream",
                json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}],
                       "max_tokens": 10, "max_completion_tokens": 20, "stop": ["a", "b"], "stream": true,
                       "stream_options": {"include_usage": true}}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 20, "stop_sequences": ["a", "b"],
                       "stream": true, "messages": [{"role": "user", "content": "Hi"}]}),
            ),
            (
                "images: data URL to base64 source, https URL to url source",
                json!({"model": "m", "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]}]}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096, "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}]}),
            ),
            (
                "tools, forced tool choice, no parallel calls",
                json!({"model": "m", "messages": [{"role": "user", "content": "Weather?"}],
                       "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                       "parallel_tool_calls": false}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096,
                       "messages": [{"role": "user", "content": "Weather?"}],
                       "tools": [{"name": "get_weather", "description": "Weather by city",
                                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
                       "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}}),
            ),
            (
                "tool_choice strings: required -> any",
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                       "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096,
                       "messages": [{"role": "user", "content": "x"}],
                       "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
                       "tool_choice": {"type": "any"}}),
            ),
            (
                "legacy functions and function_call",
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                       "functions": [{"name": "f", "parameters": {"type": "object"}}], "function_call": {"name": "f"}}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096,
                       "messages": [{"role": "user", "content": "x"}],
                       "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                       "tool_choice": {"type": "tool", "name": "f"}}),
            ),
            (
                "tool call round trip: assistant tool_calls and tool results",
                json!({"model": "m", "messages": [
                    {"role": "user", "content": "Weather in Paris and Rome?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]}]}),
                json!({"model": "claude-3-haiku-20240307", "max_tokens": 4096, "messages": [
                    {"role": "user", "content": "Weather in Paris and Rome?"},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"}]}]}),
            ),
        ];
        for (name, input, expected) in cases {
            assert_eq!(translate(input).unwrap(), expected, "case: {name}");
        }
    }

    /// Table: requests Anthropic cannot honour, with the parameter the error must name.
    #[test]
    fn request_rejections_table() {
        let user = json!([{"role": "user", "content": "Hi"}]);
        let cases: Vec<(Value, &str)> = vec![
            (json!({"messages": user, "temperature": 1.5}), "temperature"),
            (json!({"messages": user, "n": 2}), "n"),
            (json!({"messages": user, "logprobs": true}), "logprobs"),
            (
                json!({"messages": user, "response_format": {"type": "json_object"}}),
                "response_format",
            ),
            (json!({"messages": user, "max_tokens": 0}), "max_tokens"),
            (json!({"messages": user, "stop": 5}), "stop"),
            (
                json!({"messages": [{"role": "system", "content": "only system"}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "assistant", "content": "x",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{bad"}}]}]}),
                "messages[0]",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages[0]",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                "messages[0]",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}]}),
                "messages[0]",
            ),
            (
                json!({"messages": user, "tools": [{"type": "web_search"}]}),
                "tools",
            ),
        ];
        for (input, param) in cases {
            let err = translate(input.clone()).expect_err(&input.to_string());
            assert_eq!(err.status, 400, "{input}");
            assert_eq!(err.param.as_deref(), Some(param), "{input}");
        }
    }

    /// Table: Anthropic answers -> OpenAI message and finish reason.
    #[test]
    fn response_translation_table() {
        let cases: Vec<(Value, Value, &str)> = vec![
            (
                json!([{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]),
                json!({"role": "assistant", "content": "Hello there", "refusal": null}),
                "end_turn",
            ),
            (
                json!([{"type": "thinking", "thinking": "hmm"}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]),
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
                "tool_use",
            ),
            (
                json!([{"type": "text", "text": "cut"}]),
                json!({"role": "assistant", "content": "cut", "refusal": null}),
                "max_tokens",
            ),
            (
                json!([{"type": "text", "text": "x"}]),
                json!({"role": "assistant", "content": "x", "refusal": null}),
                "stop_sequence",
            ),
        ];
        let expected_finish = ["stop", "tool_calls", "length", "stop"];
        for ((content, message, stop), finish) in cases.into_iter().zip(expected_finish) {
            let resp = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-haiku-20240307",
                "content": content, "stop_reason": stop, "stop_sequence": null,
                "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}});
            let out = to_chat_completion(&resp, 1700000000);
            assert_eq!(out["choices"][0]["message"], message);
            assert_eq!(out["choices"][0]["finish_reason"], finish);
            assert_eq!(out["id"], "chatcmpl-msg_1");
            assert_eq!(out["object"], "chat.completion");
            assert_eq!(out["model"], "claude-3-haiku-20240307");
            assert_eq!(
                out["usage"],
                json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17})
            );
        }
    }

    #[test]
    fn usage_counts_past_u64_saturate() {
        let huge =
            json!({"input_tokens": u64::MAX, "cache_read_input_tokens": 1, "output_tokens": 1});
        assert_eq!(
            usage(&huge),
            json!({"prompt_tokens": u64::MAX, "completion_tokens": 1, "total_tokens": u64::MAX})
        );
    }

    fn run_stream(events: &[Value]) -> Vec<String> {
        let mut t = StreamTranslator::new(1700000000);
        events.iter().flat_map(|e| t.event(e)).collect()
    }

    #[test]
    fn streamed_text_becomes_openai_chunks_with_usage_and_done() {
        let out = run_stream(&[
            json!({"type": "message_start", "message": {"id": "msg_9", "model": "claude-3-haiku-20240307", "usage": {"input_tokens": 7, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
            json!({"type": "message_stop"}),
        ]);
        assert_eq!(out.len(), 6, "{out:?}");
        assert_eq!(out.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = out[..5]
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(chunks[2]["choices"][0]["delta"]["content"], "lo");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["choices"], json!([]));
        assert_eq!(
            chunks[4]["usage"],
            json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})
        );
        assert!(chunks
            .iter()
            .all(|c| c["id"] == "chatcmpl-msg_9" && c["object"] == "chat.completion.chunk"));

        // The OpenAI assembler rebuilds the same answer the non-streamed translation gives.
        let mut a = crate::sse::StreamAssembler::new();
        chunks.iter().for_each(|c| a.push(c));
        let answer = a.finish().unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "Hello");
        assert_eq!(answer["usage"]["total_tokens"], 10);
    }

    #[test]
    fn streamed_tool_use_becomes_indexed_tool_call_deltas() {
        let out = run_stream(&[
            json!({"type": "message_start", "message": {"id": "msg_t", "model": "claude-3-haiku-20240307", "usage": {"input_tokens": 20, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 15}}),
            json!({"type": "message_stop"}),
        ]);
        let chunks: Vec<Value> = out
            .iter()
            .filter(|s| *s != "[DONE]")
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        let mut a = crate::sse::StreamAssembler::new();
        chunks.iter().for_each(|c| a.push(c));
        let answer = a.finish().unwrap();
        let msg = &answer["choices"][0]["message"];
        assert_eq!(msg["content"], "Checking.");
        assert_eq!(msg["tool_calls"][0]["id"], "toolu_a");
        assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
        assert_eq!(
            msg["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(answer["usage"]["prompt_tokens"], 20);
    }

    #[test]
    fn sse_bytes_translate_in_any_split_and_feed_the_openai_tap() {
        let upstream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"model\":\"claude-3-haiku-20240307\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Yes\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        for split in [1, 5, 64, upstream.len()] {
            let mut t = SseTranslator::new(1);
            let mut tap = crate::sse::StreamTap::new(false);
            let mut sent = Vec::new();
            for piece in upstream.as_bytes().chunks(split) {
                sent.extend(tap.feed(&t.feed(piece)));
            }
            sent.extend(tap.feed(&t.finish()));
            let (rest, answer) = tap.finish();
            sent.extend(rest);
            let sent = String::from_utf8(sent).unwrap();
            assert!(sent.ends_with("data: [DONE]\n\n"), "split {split}: {sent}");
            assert!(!sent.contains("total_tokens"), "usage hidden unless asked");
            let answer = answer.expect("complete stream assembles");
            assert_eq!(answer["choices"][0]["message"]["content"], "Yes");
            assert_eq!(answer["usage"]["total_tokens"], 6);
        }
    }

    #[test]
    fn stream_error_event_ends_without_done() {
        let out = run_stream(&[
            json!({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {}}}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            json!({"type": "message_stop"}),
        ]);
        assert_eq!(out.len(), 2);
        let err: Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(err["error"]["code"], "overloaded_error");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anthropic"));
    }
}
