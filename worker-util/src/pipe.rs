//! A response body written from Rust while a provider's body is read: the two ends of a streamed
//! answer that a Worker passes on chunk by chunk.
//!
//! The client's body is workerd's native `IdentityTransformStream`, which the runtime pipes to the
//! client itself; Rust writes into it. A body made from a Rust `Stream` instead (workers-rs's
//! `Response::from_stream`, through wasm-streams) is one the runtime takes through JavaScript, a
//! pull into wasm and a promise per chunk, and calls into Rust when the client cancels it,
//! wherever the runtime does that: outside the request's context, where I/O is refused and
//! through wasm-bindgen aborts the whole instance. Here nothing calls into Rust but the promises
//! of the reads and writes Rust awaits, which the runtime settles in the request's context.
//! (workers-rs has no binding for `IdentityTransformStream`, so it is declared here.)

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    ReadableStream, ReadableStreamDefaultReader, WritableStream, WritableStreamDefaultWriter,
};

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

    /// The next chunk, `None` at the end; `Err` if the body failed.
    pub async fn next(&self) -> Result<Option<Vec<u8>>, JsValue> {
        let read = JsFuture::from(self.reader.read()).await?;
        if Reflect::get(&read, &"done".into())?.is_truthy() {
            return Ok(None);
        }
        let value = Reflect::get(&read, &"value".into())?;
        Ok(Some(match value.dyn_ref::<Uint8Array>() {
            Some(bytes) => bytes.to_vec(),
            None => Uint8Array::new(&value).to_vec(),
        }))
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
