#!/usr/bin/env node
// The long schemathesis profile for developers: every check and phase against a started
// product with sample data, for --minutes (default 10), with a random seed printed so a failure
// can be replayed with --seed. `npm run fuzz:api -- --minutes 10 [--seed N]`.
import { parseArgs } from 'node:util';
import { runSchemathesis, SCHEMATHESIS, schemathesisInstalled, startContractServer } from '../dist/test/api/contract.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' } } });
if (!schemathesisInstalled()) {
  console.error(`schemathesis not found at ${SCHEMATHESIS}: run scripts/peers/install.sh`);
  process.exit(2);
}
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(`schemathesis for ${values.minutes} min, seed ${seed}`);
const h = await startContractServer();
try {
  const r = await runSchemathesis(h, { seed, maxTime: Math.round(Number(values.minutes) * 60), print: (s) => process.stdout.write(s) });
  console.log(`\nseed ${seed}: ${r.cases ?? '?'} cases, ${r.failures} failures (exit ${r.code})`);
  process.exitCode = r.code;
} finally {
  await h.close();
}
