// The chaos soak, short (#12): tools/soak.mjs for 20 s against the proxy in plain workerd on the
// test stack, while Redis is killed and restarted, PostgREST restarts and the fake upstream answers
// 503 and then hangs. Every check it prints must hold (`npm run soak` is the 90 s version). Last:
// it breaks the stack's dependencies on purpose.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkerd } from '../../tools/stack.mjs';
import { runSoak } from '../../tools/soak.mjs';
import { h } from './harness.mjs';

describe('chaos soak (20 s)', () => {
  let worker;
  after(async () => worker?.dispose());

  test('under load and faults: no wrong answers, no malformed responses, 5xx only inside fault windows, recovery within 2 s, no usage rows lost', async () => {
    worker = await startWorkerd(h.stack, { port: 0 });
    const { checks } = await runSoak(h.stack, { worker, seconds: 20, log: (line) => console.log(`    ${line}`) });
    const failed = checks.filter((c) => !c.ok);
    assert.deepEqual(failed, [], failed.map((c) => `${c.name}: ${c.detail}`).join('\n'));
  });
});
