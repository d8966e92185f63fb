//! A wasm32 build without the Worker glue exports this: the semantic lookup (query building and
//! comparison with a full candidate set, as the Worker does it) behind a C ABI, so Node can time it
//! in V8 without workerd's frozen clocks. Run by `npm run eval` (tools/semantic-wasm-bench.mjs).

use crate::semantic::{
    band_signatures, decode_record, encode_record, similarity, text_query, SemanticQuery, BANDS,
    MAX_BUCKET,
};
use std::sync::OnceLock;

fn query(text: &str) -> SemanticQuery {
    text_query(text, String::new())
}

fn stored() -> &'static Vec<String> {
    static STORED: OnceLock<Vec<String>> = OnceLock::new();
    STORED.get_or_init(|| {
        (0..BANDS * MAX_BUCKET)
            .map(|i| {
                encode_record(&query(&format!(
                    "What are the best things to do in city number {i} this weekend?"
                )))
            })
            .collect()
    })
}

/// Memory for the prompt the caller writes in.
#[no_mangle]
pub extern "C" fn bench_alloc(len: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Runs `iterations` lookups of the UTF-8 prompt at `ptr` against the full candidate set and
/// returns the best similarity seen (so the work cannot be optimised away).
///
/// # Safety
/// `ptr` must point to `len` initialised bytes from `bench_alloc`.
#[no_mangle]
pub unsafe extern "C" fn bench_lookup(ptr: *const u8, len: usize, iterations: u32) -> f32 {
    let text = std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).unwrap_or("");
    let records = stored();
    let mut best = 0f32;
    for _ in 0..iterations {
        let q = query(text);
        let _ = band_signatures(&q.vector);
        for (i, rec) in records.iter().enumerate() {
            if let Some(c) = decode_record(&i.to_string(), rec) {
                best = best.max(similarity(&q.vector, &c));
            }
        }
    }
    best
}

/// Builds the candidate set ahead of timing.
#[no_mangle]
pub extern "C" fn bench_prepare() -> u32 {
    stored().len() as u32
}
