#!/usr/bin/env node
// Writes docs/openapi.json from what a running server serves (every optional route on), so the
// checked-in document is the served one, and the TypeScript client types generated from it.
// Run after changing a route: `npm run openapi`.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_FILE, ROOT, startContractServer } from '../dist/test/api/contract.js';

const h = await startContractServer();
try {
  const res = await fetch(`${h.base}/api/v1/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/v1/openapi.json answered ${res.status}`);
  const doc = await res.json();
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${OPENAPI_FILE}: ${Object.keys(doc.paths).length} paths`);
  // The TypeScript client's types, generated from the document without edits (openapi-typescript).
  const types = join(ROOT, 'test', 'api', 'clients', 'vantage-api.d.ts');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), OPENAPI_FILE, '-o', types], {
    stdio: 'inherit',
  });
} finally {
  await h.close();
}
