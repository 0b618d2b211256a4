import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSchemathesis, SCHEMATHESIS, schemathesisInstalled, startContractServer } from './contract.js';

/** Replays the same cases on every run; the random seed adds new ones and is printed to replay them. */
const FIXED_SEED = 20261205;
/**
 * The CI budget (about 3 minutes on a 2-core machine): every phase with the fixed seed; the random
 * seed adds new fuzzed and stateful cases (the coverage phase is the same whatever the seed).
 */
const RUNS = (random: number) => [
  { seed: FIXED_SEED, examples: 15, phases: 'examples,coverage,fuzzing,stateful', atLeast: 2000 },
  { seed: random, examples: 25, phases: 'fuzzing,stateful', atLeast: 800 },
];

describe('the OpenAPI document against the running product (schemathesis --checks all)', () => {
  it('finds no failure with a fixed seed and with a random one', { timeout: 15 * 60_000 }, async (t) => {
    if (!schemathesisInstalled()) {
      const why = `schemathesis not found at ${SCHEMATHESIS}; install it with scripts/peers/install.sh`;
      if (process.env.CI === 'true') assert.fail(why);
      t.skip(why);
      return;
    }
    const h = await startContractServer();
    try {
      const random = Math.floor(Math.random() * 2 ** 31);
      for (const { seed, examples, phases, atLeast } of RUNS(random)) {
        t.diagnostic(
          `schemathesis seed ${seed}; replay: npm run fuzz:api -- --seed ${seed} --examples ${examples} --phases ${phases}`,
        );
        const r = await runSchemathesis(h, { seed, maxExamples: examples, phases });
        t.diagnostic(`seed ${seed}: ${r.cases} cases, ${r.failures} failures`);
        assert.equal(r.failures, 0, `seed ${seed}:\n${r.output.slice(-30_000)}`);
        assert.equal(r.code, 0, `seed ${seed} exit ${r.code}:\n${r.output.slice(-30_000)}`);
        // a run that generated almost nothing proves nothing
        assert.ok((r.cases ?? 0) >= atLeast, `seed ${seed}: only ${r.cases} cases generated`);
      }
    } finally {
      await h.close();
    }
  });
});
