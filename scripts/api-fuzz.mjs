#!/usr/bin/env node
// The long schemathesis profile for developers: every check and phase against a started
// product with sample data, for --minutes (default 10), with a random seed printed so a failure
// can be replayed with --seed. `npm run fuzz:api -- --minutes 10 [--seed N]`; a CI run is
// replayed with the line its test printed (`--seed N --examples N [--phases ...]`).
import { parseArgs } from 'node:util';
import { runSchemathesis, SCHEMATHESIS, schemathesisInstalled, startContractServer } from '../dist/test/api/contract.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string' },
    // replay a CI run exactly: its seed, examples per operation and phases
    examples: { type: 'string' },
    phases: { type: 'string' },
  },
});
if (!schemathesisInstalled()) {
  console.error(`schemathesis not found at ${SCHEMATHESIS}: run scripts/peers/install.sh`);
  process.exit(2);
}
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(
  values.examples ? `schemathesis, ${values.examples} examples, seed ${seed}` : `schemathesis for ${values.minutes} min, seed ${seed}`,
);
const h = await startContractServer();
try {
  const r = await runSchemathesis(h, {
    seed,
    ...(values.examples ? { maxExamples: Number(values.examples) } : { maxTime: Math.round(Number(values.minutes) * 60) }),
    ...(values.phases ? { phases: values.phases } : {}),
    print: (s) => process.stdout.write(s),
  });
  console.log(`\nseed ${seed}: ${r.cases ?? '?'} cases, ${r.failures} failures (exit ${r.code})`);
  process.exitCode = r.code;
} finally {
  await h.close();
}
