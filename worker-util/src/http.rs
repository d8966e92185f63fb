//! One way to call another service from a Worker: an [`Outbound`] request (method, URL, headers,
//! body, deadline) goes in, a [`Reply`] (status, headers, bytes) or an [`HttpError`] comes out.
//!
//! Every call has a deadline, so a hung dependency fails the request that needed it instead of
//! holding it until the platform kills it; when the deadline passes the fetch is aborted, so it stops
//! using a connection. Errors name the service by its URL without the query string (queries can
//! carry tokens), so they are safe to log. The types are plain data and build natively; only
//! [`send`], [`send_streaming`] and [`within`] need the Workers runtime.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a call waits when the caller sets no deadline of its own.
pub const DEFAULT_DEADLINE_MS: u64 = 10_000;
/// How much of an error body an [`HttpError::Status`] keeps (enough to log, never a whole page).
const BODY_IN_ERROR_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request to another service.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The whole exchange (for [`send_streaming`]: until the response headers) must end within this.
    pub deadline_ms: u64,
    /// Whether [`send`]'s [`Reply`] carries the response headers (reading them costs a call per
    /// header; a caller that only needs the status and body turns it off).
    pub read_headers: bool,
}

impl Outbound {
    pub fn new(method: Method, url: impl Into<String>) -> Outbound {
        Outbound {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            deadline_ms: DEFAULT_DEADLINE_MS,
            read_headers: true,
        }
    }

    pub fn get(url: impl Into<String>) -> Outbound {
        Outbound::new(Method::Get, url)
    }

    pub fn post(url: impl Into<String>) -> Outbound {
        Outbound::new(Method::Post, url)
    }

    /// Adds a header (names are case-insensitive on the wire; a repeated name is sent twice).
    pub fn header(mut self, name: &str, value: &str) -> Outbound {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Outbound {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Outbound {
        self.body = Some(body.into());
        self
    }

    /// A JSON body, with its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Outbound {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    pub fn deadline_ms(mut self, ms: u64) -> Outbound {
        self.deadline_ms = ms;
        self
    }

    /// Skips reading the response headers (only the status and body are needed).
    pub fn without_headers(mut self) -> Outbound {
        self.read_headers = false;
        self
    }

    /// The URL without its query string or fragment: what errors and logs show.
    pub fn target(&self) -> String {
        target(&self.url)
    }
}

fn target(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_string()
}

/// A response read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Where it came from, as [`Outbound::target`] (for errors).
    pub target: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The reply if its status is 2xx, else [`HttpError::Status`] with the start of the body.
    pub fn success(self) -> Result<Reply, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        Err(HttpError::Status {
            status: self.status,
            body: self.text().chars().take(BODY_IN_ERROR_CHARS).collect(),
            target: self.target,
        })
    }
}

/// Why a call produced no usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No complete answer within the deadline (the fetch was aborted).
    #[error("{target}: no answer within {ms} ms")]
    Timeout { target: String, ms: u64 },
    /// The connection failed, or the body could not be read.
    #[error("{target}: {detail}")]
    Network { target: String, detail: String },
    /// The request could not be built (e.g. a header value the platform refuses).
    #[error("{target}: invalid request: {detail}")]
    Invalid { target: String, detail: String },
    /// An answer that is not 2xx, from [`Reply::success`].
    #[error("{target}: HTTP {status} {body}")]
    Status {
        target: String,
        status: u16,
        body: String,
    },
}

impl HttpError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, HttpError::Timeout { .. })
    }

    /// The status of a non-2xx answer; `None` when there was no answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{send, send_read, send_streaming, within, Answer};

#[cfg(target_arch = "wasm32")]
mod wasm {
    //! The platform's `fetch`, called directly rather than through workers-rs's `Fetch` and
    //! `Response`: those read a body chunk by chunk through a stream reader and look up
    //! Cloudflare's `cf` properties on every response, which a profile of the proxy showed to be
    //! most of the cost of a subrequest. A body is read with `arrayBuffer()` in one call here, and
    //! a stream is made only for a caller that asks for one.
    use super::{HttpError, Outbound, Reply};
    use futures::future::{select, Either};
    use std::future::Future;
    use std::time::Duration;
    use worker::js_sys::{self, Uint8Array};
    use worker::wasm_bindgen::JsCast;
    use worker::wasm_bindgen_futures::JsFuture;
    use worker::web_sys;
    use worker::{AbortController, Delay};

    /// `f`'s output, or `None` if it has not finished within `ms` (it is then dropped).
    pub async fn within<F: Future>(ms: u64, f: F) -> Option<F::Output> {
        let deadline = Delay::from(Duration::from_millis(ms));
        match select(Box::pin(f), Box::pin(deadline)).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(_) => None,
        }
    }

    fn js_error(e: worker::wasm_bindgen::JsValue) -> String {
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{e:?}"))
    }

    /// The platform's `fetch(url, init)` for `out`. Called with the URL and init directly, not a
    /// `Request` built first: `fetch(request)` makes the runtime build a second `Request` from it,
    /// copying the headers again (`npm run bench:miss`: see the README, "Performance").
    fn start_fetch(
        out: &Outbound,
        signal: &web_sys::AbortSignal,
    ) -> Result<js_sys::Promise, HttpError> {
        let invalid = |e| HttpError::Invalid {
            target: out.target(),
            detail: js_error(e),
        };
        let headers = web_sys::Headers::new().map_err(invalid)?;
        for (k, v) in &out.headers {
            headers.append(k, v).map_err(invalid)?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(out.method.as_str());
        init.set_headers(&headers);
        init.set_signal(Some(signal));
        if let Some(body) = &out.body {
            init.set_body(&Uint8Array::from(&body[..]));
        }
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        Ok(global.fetch_with_str_and_init(&out.url, &init))
    }

    /// A response whose headers have arrived; its body is read (or streamed) on demand.
    pub struct Answer {
        target: String,
        deadline_ms: u64,
        inner: web_sys::Response,
    }

    impl Answer {
        pub fn status(&self) -> u16 {
            self.inner.status()
        }

        /// A header's value, by case-insensitive name.
        pub fn header(&self, name: &str) -> Option<String> {
            self.inner.headers().get(name).ok().flatten()
        }

        /// The whole body, in one read (a caller of [`send_streaming`] bounds it with [`within`]).
        pub async fn bytes(&self) -> Result<Vec<u8>, HttpError> {
            let failed = |e| failure(&self.target, self.deadline_ms, e);
            let buffer = JsFuture::from(self.inner.array_buffer().map_err(failed)?)
                .await
                .map_err(failed)?;
            Ok(Uint8Array::new(&buffer).to_vec())
        }

        /// The body as the platform's stream, to read on (`pipe`); `None` if it has none.
        pub fn into_body(self) -> Option<web_sys::ReadableStream> {
            self.inner.body()
        }
    }

    /// A rejection as an error: the deadline's (`AbortSignal.timeout` aborts with a
    /// TimeoutError), or the network's.
    fn failure(target: &str, deadline_ms: u64, e: worker::wasm_bindgen::JsValue) -> HttpError {
        // By name, not by type: the platform's timeout signal rejects with a DOMException.
        let name = js_sys::Reflect::get(&e, &"name".into())
            .ok()
            .and_then(|n| n.as_string());
        let timed_out = matches!(name.as_deref(), Some("TimeoutError" | "AbortError"));
        if timed_out {
            HttpError::Timeout {
                target: target.to_string(),
                ms: deadline_ms,
            }
        } else {
            HttpError::Network {
                target: target.to_string(),
                detail: js_error(e),
            }
        }
    }

    /// The answer's headers and its body, within the deadline: the platform's own timeout signal
    /// (`AbortSignal.timeout`) aborts the fetch and the body's read when it passes, so it stops
    /// using a connection, and no timer or race of ours runs (each costs wasm-bindgen closures
    /// and a poll per wake on the hot path).
    async fn whole(out: &Outbound) -> Result<(Answer, Vec<u8>), HttpError> {
        let target = out.target();
        let failed = |e| failure(&target, out.deadline_ms, e);
        let ms = u32::try_from(out.deadline_ms).unwrap_or(u32::MAX);
        let signal = web_sys::AbortSignal::timeout_with_u32(ms);
        let promise = start_fetch(out, &signal)?;
        let resp = JsFuture::from(promise).await.map_err(failed)?;
        let answer = Answer {
            target: out.target(),
            deadline_ms: out.deadline_ms,
            inner: resp.dyn_into().map_err(failed)?,
        };
        let body = answer.bytes().await?;
        Ok((answer, body))
    }

    /// The answer's headers within the deadline (the fetch is aborted when it passes, so it stops
    /// using a connection). The body, read or streamed after this returns, is not bounded by the
    /// deadline (a long generation may take longer than the wait for its first byte), so the
    /// signal here is aborted by our timer, not the platform's.
    async fn headers_first(out: &Outbound) -> Result<Answer, HttpError> {
        let controller = AbortController::default();
        let work = async {
            let target = out.target();
            let failed = |e| failure(&target, out.deadline_ms, e);
            let signal = controller.signal();
            let promise = start_fetch(out, &signal)?;
            let resp = JsFuture::from(promise).await.map_err(failed)?;
            Ok(Answer {
                target: out.target(),
                deadline_ms: out.deadline_ms,
                inner: resp.dyn_into().map_err(failed)?,
            })
        };
        match within(out.deadline_ms, work).await {
            Some(result) => result,
            None => {
                controller.abort();
                Err(HttpError::Timeout {
                    target: out.target(),
                    ms: out.deadline_ms,
                })
            }
        }
    }

    /// Sends the request and reads the whole answer, all within its deadline. Any status is a
    /// [`Reply`]; use [`Reply::success`] to treat non-2xx as an error.
    pub async fn send(out: &Outbound) -> Result<Reply, HttpError> {
        let (answer, body) = whole(out).await?;
        let headers = if !out.read_headers {
            Vec::new()
        } else {
            headers_of(&answer.inner)
        };
        Ok(Reply {
            target: out.target(),
            status: answer.status(),
            headers,
            body,
        })
    }

    fn headers_of(resp: &web_sys::Response) -> Vec<(String, String)> {
        js_sys::try_iter(&resp.headers())
            .ok()
            .flatten()
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|pair| {
                        let pair: js_sys::Array = pair.dyn_into().ok()?;
                        Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends the request and reads the whole answer within its deadline, like [`send`], but keeps
    /// the answer's headers to read on demand (one call per header asked for, none for the rest).
    pub async fn send_read(out: &Outbound) -> Result<(Answer, Vec<u8>), HttpError> {
        whole(out).await
    }

    /// Sends the request and returns the answer as soon as its headers arrive (within the
    /// deadline); its body is read or streamed by the caller, still under the deadline's signal.
    pub async fn send_streaming(out: &Outbound) -> Result<Answer, HttpError> {
        headers_first(out).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builder_sets_method_headers_json_body_and_deadline() {
        let out = Outbound::post("https://api.example.com/v1/x?token=secret")
            .bearer("k")
            .json(&json!({"a": 1}))
            .deadline_ms(250);
        assert_eq!(out.method.as_str(), "POST");
        assert_eq!(
            out.headers,
            vec![
                ("authorization".to_string(), "Bearer k".to_string()),
                ("content-type".to_string(), "application/json".to_string()),
            ]
        );
        assert_eq!(out.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(out.deadline_ms, 250);
        assert_eq!(Outbound::get("https://x").deadline_ms, DEFAULT_DEADLINE_MS);
    }

    #[test]
    fn targets_and_errors_never_show_the_query() {
        let out = Outbound::get("https://h.example/p/q?apikey=secret#frag");
        assert_eq!(out.target(), "https://h.example/p/q");
        let e = HttpError::Timeout {
            target: out.target(),
            ms: 10,
        };
        assert_eq!(
            e.to_string(),
            "https://h.example/p/q: no answer within 10 ms"
        );
        assert!(e.is_timeout() && e.status().is_none());
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            target: "https://h/p".into(),
            status,
            headers: vec![("Retry-After".into(), "3".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn replies_read_headers_text_and_json() {
        let r = reply(200, r#"{"n": 2}"#);
        assert!(r.is_success());
        assert_eq!(r.header("retry-after"), Some("3"));
        assert_eq!(r.header("x-missing"), None);
        assert_eq!(r.json::<serde_json::Value>().unwrap()["n"], 2);
        assert!(r.json::<Vec<u8>>().is_err());
        assert_eq!(r.success().unwrap().status, 200);
    }

    #[test]
    fn non_2xx_becomes_a_status_error_with_a_bounded_body() {
        let long = "x".repeat(1000);
        let e = reply(503, &long).success().unwrap_err();
        assert_eq!(e.status(), Some(503));
        let HttpError::Status { body, target, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (body.len(), target.as_str()),
            (BODY_IN_ERROR_CHARS, "https://h/p")
        );
        assert!(reply(302, "").success().is_err());
        assert!(reply(204, "").success().is_ok());
    }
}
