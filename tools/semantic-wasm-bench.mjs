// Times the semantic lookup compiled to wasm32 (the Worker's code, without the Worker glue) in V8:
// µs to build a query and decide against one full bucket and against every band's. Usage: node tools/semantic-wasm-bench.mjs <file.wasm>
import fs from 'node:fs';

const bytes = fs.readFileSync(process.argv[2]);
const module = await WebAssembly.compile(bytes);
// Any import left in the module is unused by the benchmark: stub it.
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = imp.kind === 'function' ? () => { throw new Error(`unexpected call to ${imp.module}.${imp.name}`); } : undefined;
}
const { exports } = await WebAssembly.instantiate(module, imports);
const candidates = exports.bench_prepare();
const prompts = ['What are the best things to do in Hong Kong this weekend?', 'Please explain the theory of relativity in simple terms.', 'How do I reset my router password?'];
const write = (text) => {
  const data = new TextEncoder().encode(text);
  const ptr = exports.bench_alloc(data.length);
  new Uint8Array(exports.memory.buffer, ptr, data.length).set(data);
  return [ptr, data.length];
};
const inputs = prompts.map(write);
const time = (n) => {
  for (const [p, l] of inputs) exports.bench_lookup(p, l, 20, n); // warm-up
  const runs = 600;
  const t = performance.now();
  for (let i = 0; i < runs; i++) {
    const [p, l] = inputs[i % inputs.length];
    exports.bench_lookup(p, l, 1, n);
  }
  return ((performance.now() - t) * 1000) / runs;
};
const bucket = 32;
console.log(`wasm (V8 ${process.versions.v8}), query building included: ${time(bucket).toFixed(1)} µs per lookup against ${bucket} candidates (one bucket, the in-Worker embedder), ${time(candidates).toFixed(1)} µs against ${candidates} (every band, the hosted one)`);
