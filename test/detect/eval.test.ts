import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pcapFile } from '../support/pcap-writer.js';
import { detectCapture, matches } from './harness.js';
import { makeLabelled } from './labelled.js';

test('labelled capture: every episode found, at most 1 false alert per 10,000 benign flows', async () => {
  const lab = makeLabelled();
  const { alerts, flows } = await detectCapture(pcapFile(lab.kit.packets(lab.t0)));
  assert.ok(lab.benignFlows >= 20_000, `benign flows ${lab.benignFlows}`);
  const found = lab.episodes.map((e) => alerts.some((a) => matches(e, a)));
  const falses = alerts.filter((a) => !lab.episodes.some((e) => matches(e, a)));
  const byCat = new Map<string, { n: number; found: number }>();
  lab.episodes.forEach((e, i) => {
    const c = byCat.get(e.category) ?? { n: 0, found: 0 };
    c.n++;
    if (found[i]) c.found++;
    byCat.set(e.category, c);
  });
  const report = [...byCat].map(([c, v]) => `${c} ${v.found}/${v.n}`).join(', ');
  const fpRate = (falses.length / lab.benignFlows) * 10_000;
  process.stdout.write(
    `# detect eval: ${flows} flows (${lab.benignFlows} benign), ${alerts.length} alerts; recall ${report}; ` +
      `false alerts ${falses.length} (${fpRate.toFixed(2)} per 10k benign flows)\n`,
  );
  for (const f of falses) process.stdout.write(`#   false: ${f.detector} ${f.title}\n`);
  lab.episodes.forEach((e, i) => {
    if (!found[i]) process.stdout.write(`#   missed: ${e.id} (${e.how})\n`);
  });
  const recall = found.filter(Boolean).length / found.length;
  assert.ok(recall >= 0.95, `recall ${recall} < 0.95: ${report}`);
  for (const [c, v] of byCat) assert.equal(v.found, v.n, `category ${c}: ${v.found}/${v.n}`);
  assert.ok(fpRate <= 1, `false alerts ${falses.length} per ${lab.benignFlows} benign flows`);
  // Explained: every true alert carries its numbers and an ATT&CK technique where one fits.
  for (const a of alerts) {
    assert.ok(Object.keys(a.evidence as object).length > 3, `${a.detector} has evidence`);
    if (a.category !== 'new_destination') assert.ok(a.attack_technique, `${a.detector} has a technique`);
  }
  const beacon = alerts.find((a) => a.category === 'beacon');
  const ev = beacon?.evidence as Record<string, unknown> | undefined;
  assert.ok(
    ev && typeof ev.ts_score === 'number' && typeof ev.ds_score === 'number',
    'RITA subscores in the evidence',
  );
});
