//! Server-sent events for streamed completions: an incremental parser for upstream streams, an
//! assembler that turns OpenAI chunks into the complete answer (what the cache stores), and a
//! replayer that turns a stored answer back into a valid chunk stream for streamed cache hits.

use serde_json::{json, Map, Value};

/// One parsed event: the raw text as received (forwarded unchanged) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub raw: String,
    pub data: Option<String>,
}

/// Incremental SSE parser: feed it bytes as they arrive, take whole events out.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep_len)) = find_event_end(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end + sep_len).collect();
            let raw = String::from_utf8_lossy(&block).into_owned();
            events.push(parse_block(raw));
        }
        events
    }

    /// Whatever is left when the stream ends without a final blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.buffer.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let raw = String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned();
        Some(parse_block(raw))
    }
}

fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
    }
    None
}

fn parse_block(raw: String) -> SseEvent {
    let mut data: Option<String> = None;
    for line in raw.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(rest);
                }
                None => data = Some(rest.to_string()),
            }
        }
    }
    SseEvent { raw, data }
}

/// Formats one `data:` event.
pub fn data_event(data: &str) -> String {
    format!("data: {data}\n\n")
}

pub const DONE: &str = "[DONE]";

/// Whether a chunk is the usage-only chunk sent at the end when `include_usage` is on.
pub fn is_usage_only_chunk(chunk: &Value) -> bool {
    chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && chunk.get("usage").is_some_and(|u| !u.is_null())
}

/// Builds the complete answer from the chunks of a streamed chat completion or text completion.
#[derive(Debug, Default)]
pub struct StreamAssembler {
    first: Option<Map<String, Value>>,
    choices: Vec<ChoiceAcc>,
    usage: Option<Value>,
    chunk_count: usize,
    /// A choice or tool-call index past `MAX_INDEX` was seen: the answer is not assembled (and
    /// so never cached), and no index can make the assembler allocate without bound.
    overflowed: bool,
}

/// The largest choice or tool-call index assembled (OpenAI allows `n` up to 128).
const MAX_INDEX: usize = 128;

#[derive(Debug, Default, Clone)]
struct ChoiceAcc {
    role: Option<String>,
    text: String,
    has_text: bool,
    refusal: Option<String>,
    tool_calls: Vec<Map<String, Value>>,
    function_call: Option<Map<String, Value>>,
    finish_reason: Value,
}

fn append_str(target: &mut Map<String, Value>, key: &str, piece: &str) {
    match target.get_mut(key) {
        Some(Value::String(s)) => s.push_str(piece),
        _ => {
            target.insert(key.to_string(), Value::String(piece.to_string()));
        }
    }
}

impl StreamAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one parsed chunk (`chat.completion.chunk` or streamed `text_completion`).
    pub fn push(&mut self, chunk: &Value) {
        let Some(obj) = chunk.as_object() else { return };
        self.chunk_count += 1;
        if self.first.is_none() {
            self.first = Some(obj.clone());
        }
        if let Some(u) = obj.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        for choice in obj
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if index >= MAX_INDEX {
                self.overflowed = true;
                continue;
            }
            if self.choices.len() <= index {
                self.choices.resize(index + 1, ChoiceAcc::default());
            }
            let acc = &mut self.choices[index];
            if let Some(fr) = choice.get("finish_reason").filter(|f| !f.is_null()) {
                acc.finish_reason = fr.clone();
            }
            if let Some(text) = choice.get("text").and_then(Value::as_str) {
                acc.text.push_str(text);
                acc.has_text = true;
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(role) = delta.get("role").and_then(Value::as_str) {
                acc.role = Some(role.to_string());
            }
            if let Some(content) = delta.get("content").and_then(Value::as_str) {
                acc.text.push_str(content);
                acc.has_text = true;
            }
            if let Some(refusal) = delta.get("refusal").and_then(Value::as_str) {
                acc.refusal
                    .get_or_insert_with(String::new)
                    .push_str(refusal);
            }
            for tc in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = tc.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if i >= MAX_INDEX {
                    self.overflowed = true;
                    continue;
                }
                if acc.tool_calls.len() <= i {
                    acc.tool_calls.resize(i + 1, Map::new());
                }
                let call = &mut acc.tool_calls[i];
                for key in ["id", "type"] {
                    if let Some(v) = tc.get(key).filter(|v| !v.is_null()) {
                        call.insert(key.into(), v.clone());
                    }
                }
                if let Some(f) = tc.get("function") {
                    let slot = call.entry("function").or_insert_with(|| json!({}));
                    if !slot.is_object() {
                        *slot = json!({});
                    }
                    let Some(func) = slot.as_object_mut() else {
                        continue;
                    };
                    if let Some(name) = f.get("name").and_then(Value::as_str) {
                        append_str(func, "name", name);
                    }
                    if let Some(args) = f.get("arguments").and_then(Value::as_str) {
                        append_str(func, "arguments", args);
                    }
                }
            }
            if let Some(fc) = delta.get("function_call") {
                let func = acc.function_call.get_or_insert_with(Map::new);
                for key in ["name", "arguments"] {
                    if let Some(s) = fc.get(key).and_then(Value::as_str) {
                        append_str(func, key, s);
                    }
                }
            }
        }
    }

    /// Whether any chunk was seen.
    pub fn is_empty(&self) -> bool {
        self.chunk_count == 0
    }

    /// The complete answer in the non-streaming response format, or None if nothing arrived or
    /// some choice never finished (a cut-off stream must not be cached).
    pub fn finish(self) -> Option<Value> {
        let first = self.first?;
        if self.overflowed
            || self.choices.is_empty()
            || self.choices.iter().any(|c| c.finish_reason.is_null())
        {
            return None;
        }
        let is_text_completion =
            first.get("object").and_then(Value::as_str) == Some("text_completion");
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                if is_text_completion {
                    return json!({"index": index, "text": c.text, "logprobs": null, "finish_reason": c.finish_reason});
                }
                let mut message = Map::new();
                message.insert("role".into(), Value::String(c.role.unwrap_or_else(|| "assistant".into())));
                message.insert("content".into(), if c.has_text { Value::String(c.text) } else { Value::Null });
                message.insert("refusal".into(), c.refusal.map_or(Value::Null, Value::String));
                if !c.tool_calls.is_empty() {
                    message.insert("tool_calls".into(), Value::Array(c.tool_calls.into_iter().map(Value::Object).collect()));
                }
                if let Some(fc) = c.function_call {
                    message.insert("function_call".into(), Value::Object(fc));
                }
                json!({"index": index, "message": message, "logprobs": null, "finish_reason": c.finish_reason})
            })
            .collect();
        let mut out = Map::new();
        for key in ["id", "created", "model", "system_fingerprint", "provider"] {
            if let Some(v) = first.get(key).filter(|v| !v.is_null()) {
                out.insert(key.into(), v.clone());
            }
        }
        out.insert(
            "object".into(),
            Value::String(
                if is_text_completion {
                    "text_completion"
                } else {
                    "chat.completion"
                }
                .into(),
            ),
        );
        out.insert("choices".into(), Value::Array(choices));
        if let Some(u) = self.usage {
            out.insert("usage".into(), u);
        }
        Some(Value::Object(out))
    }
}

/// Turns a complete (non-streaming) answer into the SSE events of an equivalent stream,
/// ending with `data: [DONE]`. The usage chunk is included when the client asked for it.
pub fn replay(answer: &Value, include_usage: bool) -> Vec<String> {
    let is_text_completion =
        answer.get("object").and_then(Value::as_str) == Some("text_completion");
    let mut head = Map::new();
    for key in ["id", "created", "model", "system_fingerprint"] {
        if let Some(v) = answer.get(key) {
            head.insert(key.into(), v.clone());
        }
    }
    head.insert(
        "object".into(),
        Value::String(
            if is_text_completion {
                "text_completion"
            } else {
                "chat.completion.chunk"
            }
            .into(),
        ),
    );
    let chunk = |choices: Value, usage: Option<&Value>| {
        let mut c = head.clone();
        c.insert("choices".into(), choices);
        if include_usage {
            c.insert("usage".into(), usage.cloned().unwrap_or(Value::Null));
        }
        data_event(&Value::Object(c).to_string())
    };
    let mut events = Vec::new();
    for choice in answer
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = choice.get("index").cloned().unwrap_or(json!(0));
        let finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        if is_text_completion {
            let text = choice.get("text").cloned().unwrap_or(json!(""));
            events.push(chunk(
                json!([{"index": index, "text": text, "logprobs": null, "finish_reason": null}]),
                None,
            ));
            events.push(chunk(
                json!([{"index": index, "text": "", "logprobs": null, "finish_reason": finish}]),
                None,
            ));
            continue;
        }
        let message = choice.get("message").cloned().unwrap_or(json!({}));
        let role = message.get("role").cloned().unwrap_or(json!("assistant"));
        events.push(chunk(json!([{"index": index, "delta": {"role": role, "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]), None));
        if let Some(content) = message
            .get("content")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            events.push(chunk(json!([{"index": index, "delta": {"content": content}, "logprobs": null, "finish_reason": null}]), None));
        }
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            events.push(chunk(json!([{"index": index, "delta": {"refusal": refusal}, "logprobs": null, "finish_reason": null}]), None));
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let deltas: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"index": i, "id": c.get("id"), "type": c.get("type").cloned().unwrap_or(json!("function")), "function": c.get("function")}))
                .collect();
            events.push(chunk(json!([{"index": index, "delta": {"tool_calls": deltas}, "logprobs": null, "finish_reason": null}]), None));
        }
        if let Some(fc) = message.get("function_call") {
            events.push(chunk(json!([{"index": index, "delta": {"function_call": fc}, "logprobs": null, "finish_reason": null}]), None));
        }
        events.push(chunk(
            json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish}]),
            None,
        ));
    }
    if include_usage {
        events.push(chunk(json!([]), answer.get("usage")));
    }
    events.push(data_event(DONE));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(events: &[String]) -> Value {
        let mut parser = SseParser::new();
        let mut asm = StreamAssembler::new();
        let mut saw_done = false;
        for e in parser.feed(events.concat().as_bytes()) {
            let data = e.data.unwrap();
            if data == DONE {
                saw_done = true;
            } else {
                asm.push(&serde_json::from_str(&data).unwrap());
            }
        }
        assert!(saw_done);
        asm.finish().unwrap()
    }

    #[test]
    fn parser_handles_split_bytes_crlf_comments_and_multiline_data() {
        let mut p = SseParser::new();
        assert!(p.feed(b": OPENROUTER PROCESSING\n\nda").len() == 1);
        assert!(p.feed(b"ta: {\"a\":").is_empty());
        let evs = p.feed(b"1}\r\n\r\ndata: x\ndata: y\n\n");
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].data.as_deref(), Some("{\"a\":1}"));
        assert_eq!(evs[0].raw, "data: {\"a\":1}\r\n\r\n");
        assert_eq!(evs[1].data.as_deref(), Some("x\ny"));
        assert!(p.finish().is_none());
        p.feed(b"data: tail");
        assert_eq!(p.finish().unwrap().data.as_deref(), Some("tail"));
    }

    #[test]
    fn assembles_content_tool_calls_and_usage() {
        let chunks = [
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#,
        ];
        let mut events: Vec<String> = chunks.iter().map(|c| data_event(c)).collect();
        events.push(data_event(DONE));
        let answer = assemble(&events);
        assert_eq!(answer["object"], "chat.completion");
        assert_eq!(answer["choices"][0]["message"]["content"], "Hello");
        assert_eq!(
            answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(
            answer["choices"][0]["message"]["tool_calls"][0]["id"],
            "call_1"
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(answer["usage"]["total_tokens"], 13);
        assert!(is_usage_only_chunk(
            &serde_json::from_str(chunks[7]).unwrap()
        ));
        assert!(!is_usage_only_chunk(
            &serde_json::from_str(chunks[6]).unwrap()
        ));
    }

    #[test]
    fn unfinished_streams_are_not_assembled() {
        let mut asm = StreamAssembler::new();
        asm.push(&serde_json::from_str(r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#).unwrap());
        assert!(asm.finish().is_none());
        assert!(StreamAssembler::new().finish().is_none());
    }

    #[test]
    fn replay_round_trips_through_the_assembler() {
        let answer = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there", "refusal": null,
                "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        });
        let events = replay(&answer, true);
        assert_eq!(events.last().unwrap(), "data: [DONE]\n\n");
        let back = assemble(&events);
        assert_eq!(back["choices"], answer["choices"]);
        assert_eq!(back["usage"], answer["usage"]);
        let without_usage = replay(&answer, false);
        assert!(without_usage.iter().all(|e| !e.contains("\"usage\"")));
    }

    #[test]
    fn replays_text_completions() {
        let answer = serde_json::json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
            "choices": [{"index": 0, "text": "Hello", "logprobs": null, "finish_reason": "stop"}]});
        let back = assemble(&replay(&answer, false));
        assert_eq!(back["object"], "text_completion");
        assert_eq!(back["choices"][0]["text"], "Hello");
        assert_eq!(back["choices"][0]["finish_reason"], "stop");
    }
}

/// Sits between an upstream stream and the client: forwards whole events as they complete,
/// assembles the answer for the cache, and drops the usage-only chunk when the proxy asked for
/// usage on the client's behalf (`client_wants_usage` false).
#[derive(Debug)]
pub struct StreamTap {
    parser: SseParser,
    assembler: StreamAssembler,
    client_wants_usage: bool,
    saw_done: bool,
}

impl StreamTap {
    pub fn new(client_wants_usage: bool) -> Self {
        StreamTap {
            parser: SseParser::new(),
            assembler: StreamAssembler::new(),
            client_wants_usage,
            saw_done: false,
        }
    }

    /// Takes upstream bytes; returns the bytes to send to the client now.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let events = self.parser.feed(bytes);
        let mut out = Vec::new();
        for event in events {
            if self.process(&event) {
                out.extend_from_slice(event.raw.as_bytes());
            }
        }
        out
    }

    fn process(&mut self, event: &SseEvent) -> bool {
        let Some(data) = event.data.as_deref() else {
            return true;
        };
        if data.trim() == DONE {
            self.saw_done = true;
            return true;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(chunk) => {
                self.assembler.push(&chunk);
                self.client_wants_usage || !is_usage_only_chunk(&chunk)
            }
            Err(_) => true,
        }
    }

    /// Ends the stream: returns any last bytes to send and the assembled answer if the stream was
    /// complete (ended with `[DONE]` and every choice finished).
    pub fn finish(&mut self) -> (Vec<u8>, Option<Value>) {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            if self.process(&event) {
                out.extend_from_slice(event.raw.as_bytes());
            }
        }
        let assembler = std::mem::take(&mut self.assembler);
        let answer = if self.saw_done {
            assembler.finish()
        } else {
            None
        };
        (out, answer)
    }
}

#[cfg(test)]
mod tap_tests {
    use super::*;

    const CHUNKS: &str = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn forwards_events_and_hides_usage_the_client_did_not_ask_for() {
        let mut tap = StreamTap::new(false);
        let mut sent = Vec::new();
        for piece in CHUNKS.as_bytes().chunks(7) {
            sent.extend(tap.feed(piece));
        }
        let (rest, answer) = tap.finish();
        sent.extend(rest);
        let sent = String::from_utf8(sent).unwrap();
        assert!(!sent.contains("\"total_tokens\""));
        assert!(sent.ends_with("data: [DONE]\n\n"));
        let answer = answer.unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "Hi");
        assert_eq!(
            answer["usage"]["total_tokens"], 6,
            "usage is kept for cost accounting"
        );
    }

    #[test]
    fn passes_usage_through_when_asked_and_needs_done_to_cache() {
        let mut tap = StreamTap::new(true);
        let sent = tap.feed(CHUNKS.as_bytes());
        assert_eq!(String::from_utf8(sent).unwrap(), CHUNKS);
        assert!(tap.finish().1.is_some());

        let cut = &CHUNKS[..CHUNKS.find("data: [DONE]").unwrap()];
        let mut tap = StreamTap::new(true);
        tap.feed(cut.as_bytes());
        assert!(
            tap.finish().1.is_none(),
            "a stream without [DONE] is never cached"
        );
    }
}
