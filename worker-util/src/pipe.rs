//! A response body written from Rust while a provider's body is read: the two ends of a streamed
//! answer that a Worker passes on chunk by chunk.
//!
//! The client's body is workerd's native `IdentityTransformStream`, which the runtime pipes to the
//! client itself; Rust writes into it. A body made from a Rust `Stream` instead (workers-rs's
//! `Response::from_stream`, through wasm-streams) is one the runtime takes through JavaScript, a
//! pull into wasm and a promise per chunk, and calls into Rust when the client cancels it,
//! wherever the runtime does that: outside the request's context, where I/O is refused and
//! through wasm-bindgen aborts the whole instance. Here nothing calls into Rust but what follows
//! the reads and writes of the request's own task, which the runtime settles in the request's
//! context.
//! (workers-rs has no binding for `IdentityTransformStream`, so it is declared here.)
//!
//! `BodyReader::pump_into` passes a body on through a synchronous Rust transform with the loop in
//! JavaScript. Each chunk costs the runtime a read and a write either way, but awaited from Rust
//! each of them also costs wasm-bindgen two new JavaScript closures, a call into wasm to settle
//! and another to poll. In `npm run bench:miss` with 107-117 chunks a stream (`ANSWER_REPEAT`),
//! workerd's CPU per chunk read and written was about 120 µs awaited from Rust, 90 µs from a
//! JavaScript loop and 10 µs piped natively (which a Worker that must see the chunks cannot do).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Promise, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    ReadableStream, ReadableStreamDefaultReader, WritableStream, WritableStreamDefaultWriter,
};

// Ends with 0 when the body ended, 1 when a write failed (the client went away), 2 when a read
// failed (the body's source failed). `transform` returns the bytes to write (none: nothing);
// `taken` is called once a write has settled.
#[wasm_bindgen(inline_js = r#"
export async function pumpThrough(reader, writer, transform, taken) {
  for (;;) {
    let read;
    try { read = await reader.read(); } catch { return 2; }
    if (read.done) return 0;
    const out = transform(read.value);
    if (out === undefined) continue;
    try { await writer.write(out); } catch { taken(); return 1; }
    taken();
  }
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = pumpThrough)]
    fn pump_through(
        reader: &ReadableStreamDefaultReader,
        writer: &WritableStreamDefaultWriter,
        transform: &Closure<dyn FnMut(Uint8Array) -> Option<Uint8Array>>,
        taken: &Closure<dyn FnMut()>,
    ) -> Promise;
}

/// How `BodyReader::pump_into` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The body ended.
    Ended,
    /// A write failed: the client went away.
    WriterGone,
    /// A read failed: the body's source failed.
    ReadFailed,
}

#[wasm_bindgen]
extern "C" {
    /// workerd's byte stream with no queue: a write settles once the reader has taken it.
    type IdentityTransformStream;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<IdentityTransformStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &IdentityTransformStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &IdentityTransformStream) -> WritableStream;
}

/// Reads a body chunk by chunk.
pub struct BodyReader {
    reader: ReadableStreamDefaultReader,
}

impl BodyReader {
    pub fn new(body: &ReadableStream) -> Result<BodyReader, JsValue> {
        Ok(BodyReader {
            reader: body.get_reader().dyn_into()?,
        })
    }

    /// Reads the body to its end, writing what `transform` makes of each chunk (`None`: nothing)
    /// into `writer`, each write awaited before the next read; `taken` is called as each write
    /// settles. Stops at the first failed read or write, and stops calling either function once
    /// it has settled, so both may be dropped then.
    pub async fn pump_into(
        &self,
        writer: &BodyWriter,
        mut transform: impl FnMut(Vec<u8>) -> Option<Vec<u8>> + 'static,
        taken: impl FnMut() + 'static,
    ) -> PumpEnd {
        let transform = Closure::new(move |chunk: Uint8Array| {
            transform(chunk.to_vec()).map(|out| Uint8Array::from(out.as_slice()))
        });
        let taken: Closure<dyn FnMut()> = Closure::new(taken);
        let ended = JsFuture::from(pump_through(
            &self.reader,
            &writer.writer,
            &transform,
            &taken,
        ))
        .await;
        match ended.ok().and_then(|code| code.as_f64()) {
            Some(0.0) => PumpEnd::Ended,
            Some(1.0) => PumpEnd::WriterGone,
            _ => PumpEnd::ReadFailed,
        }
    }

    /// Stops reading: the body's source is told to stop sending.
    pub async fn cancel(&self) {
        let _ = JsFuture::from(self.reader.cancel()).await;
    }
}

/// Writes a body the runtime sends to the client natively.
pub struct BodyWriter {
    writer: WritableStreamDefaultWriter,
}

impl BodyWriter {
    /// The client's body, and the writer for it.
    pub fn new() -> Result<(ReadableStream, BodyWriter), JsValue> {
        let stream = IdentityTransformStream::new()?;
        let writer = stream.writable().get_writer()?;
        Ok((stream.readable(), BodyWriter { writer }))
    }

    /// Writes `bytes`; settles once the client's side has taken them. `Err` if the client went
    /// away (the body was cancelled).
    pub async fn write(&self, bytes: &[u8]) -> Result<(), JsValue> {
        let chunk = Uint8Array::from(bytes);
        JsFuture::from(self.writer.write_with_chunk(&chunk)).await?;
        Ok(())
    }

    /// Ends the body.
    pub async fn close(&self) -> Result<(), JsValue> {
        JsFuture::from(self.writer.close()).await?;
        Ok(())
    }

    /// Ends the body with an error: the client sees the stream cut short.
    pub async fn abort(&self, reason: &str) {
        let reason = JsValue::from_str(reason);
        let _ = JsFuture::from(self.writer.abort_with_reason(&reason)).await;
    }
}
