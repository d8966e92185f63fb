//! A wasm32 build without the Worker glue exports this: the semantic lookup (query building and
//! comparison with a full candidate set, as the Worker does it) behind a C ABI, so Node can time it
//! in V8 without workerd's frozen clocks. Run by `npm run eval` (tools/semantic-wasm-bench.mjs).

use crate::semantic::{
    bucket_keys, decide, decode_record, encode_record, text_query, SemanticQuery, BANDS, MAX_BUCKET,
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

/// Runs `iterations` lookups of the UTF-8 prompt at `ptr` against the first `candidates` stored
/// records (one bucket: `MAX_BUCKET`; every band: `BANDS * MAX_BUCKET`) and returns how many
/// decisions let a candidate through (so the work cannot be optimised away).
///
/// # Safety
/// `ptr` must point to `len` initialised bytes from `bench_alloc`.
#[no_mangle]
pub unsafe extern "C" fn bench_lookup(
    ptr: *const u8,
    len: usize,
    iterations: u32,
    candidates: u32,
) -> u32 {
    let text = std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).unwrap_or("");
    let records = stored();
    let mut hits = 0;
    for _ in 0..iterations {
        let q = query(text);
        std::hint::black_box(bucket_keys("p", &q));
        for (i, rec) in records.iter().take(candidates as usize).enumerate() {
            if let Some(c) = decode_record(&i.to_string(), rec) {
                hits += decide(&q, &c, 0.0).is_some() as u32;
            }
        }
    }
    hits
}

/// Builds the candidate set ahead of timing.
#[no_mangle]
pub extern "C" fn bench_prepare() -> u32 {
    stored().len() as u32
}
