#!/usr/bin/env node
// Writes docs/openapi.json from what a running server serves (every optional route on), so the
// checked-in document is the served one. Run after changing a route: `npm run openapi`.
import { writeFileSync } from 'node:fs';
import { OPENAPI_FILE, startContractServer } from '../dist/test/api/contract.js';

const h = await startContractServer();
try {
  const res = await fetch(`${h.base}/api/v1/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/v1/openapi.json answered ${res.status}`);
  const doc = await res.json();
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${OPENAPI_FILE}: ${Object.keys(doc.paths).length} paths`);
} finally {
  await h.close();
}
