import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { verifyChain } from '../../src/respond/audit.js';
import { loadPlaybook, PlaybookError, playbookJsonSchema } from '../../src/respond/playbook.js';
import { ROOT } from '../live/support.js';

const DATA = `${ROOT}test/respond/testdata/`;
const catalog = new Map([
  ['gw', 'isolate'],
  ['snow', 'ticket'],
  ['mail', 'notify'],
] as const);

function issues(text: string, withCatalog = true): { key: string; line: number | null; message: string }[] {
  try {
    loadPlaybook(text, withCatalog ? catalog : undefined);
  } catch (e) {
    if (e instanceof PlaybookError) return e.issues;
    throw e;
  }
  return [];
}

describe('playbook validation', () => {
  test('the example playbook is valid, YAML or the same as JSON', () => {
    const text = readFileSync(`${DATA}isolate-scanner.yaml`, 'utf8');
    const pb = loadPlaybook(text, catalog);
    assert.equal(pb.steps.length, 5);
    assert.equal(pb.steps[1]!.f.expires, 600_000);
    const asJson = JSON.stringify({
      name: 'j',
      trigger: 'severity >= 70',
      steps: [{ id: 'w', type: 'wait', for: '5s' }],
    });
    assert.equal(loadPlaybook(asJson).steps[0]!.f.for, 5000);
  });

  test('bad playbooks are refused with every key and line named', () => {
    const got = issues(readFileSync(`${DATA}bad.yaml`, 'utf8'));
    const by = (key: string) => got.find((i) => i.key === key);
    assert.match(by('steps[0].colour')!.message, /unknown key/);
    assert.equal(by('steps[0].colour')!.line, 6);
    assert.match(by('steps[1].type')!.message, /unknown step type 'teleport'/);
    assert.equal(by('steps[1].type')!.line, 8);
    assert.match(by('steps[2].then')!.message, /a loop/);
    assert.equal(by('steps[2].then')!.line, 12);
    const sub = got.filter((i) => i.key === 'steps[3].subject').map((i) => i.message);
    assert.ok(sub.some((m) => /the alert has no field 'no_such_field'/.test(m)));
    assert.ok(sub.some((m) => /no step 'later' runs before this one/.test(m)));
    assert.equal(got.length, 5, JSON.stringify(got));
  });

  test('wrong field types, unknown adapters and adapters of the wrong family name their key', () => {
    const got = issues(`name: x
trigger: severity >= 70
steps:
  - id: a
    type: approve
    expires: forever
    quorum: 0
  - id: b
    type: isolate
    via: mail
  - id: c
    type: ticket
    via: nowhere
`);
    const keys = got.map((i) => `${i.key}: ${i.message}`);
    assert.ok(keys.some((k) => k.startsWith('steps[0].expires: a duration')));
    assert.ok(keys.some((k) => k.startsWith('steps[0].quorum: an integer from 1')));
    assert.ok(keys.some((k) => k.startsWith('steps[0].roles: name who may approve')));
    assert.ok(keys.some((k) => k.startsWith("steps[1].via: adapter 'mail' is a notify adapter")));
    assert.ok(keys.some((k) => k.startsWith('steps[2].short_description: required')));
    assert.ok(keys.some((k) => k.startsWith("steps[2].via: no adapter 'nowhere'")));
  });

  test('a bad trigger filter, a duplicated id and a non-mapping are refused', () => {
    const got = issues(`name: x
trigger: severity >>= 70
steps:
  - {id: a, type: wait, for: 1s}
  - {id: a, type: wait, for: 1s}
`);
    assert.equal(got[0]!.key, 'trigger');
    assert.equal(got[0]!.line, 2);
    assert.ok(got.some((i) => i.key === 'steps[1].id' && /used twice/.test(i.message)));
    assert.equal(issues('- just a list')[0]!.message, 'a playbook is a mapping (name, trigger, steps)');
    assert.equal(issues('name: [unclosed')[0]!.key, '(file)');
  });

  test('the published schema lists every step type with its fields', () => {
    const s = playbookJsonSchema() as {
      properties: { steps: { items: { oneOf: { properties: Record<string, unknown> }[] } } };
    };
    const kinds = s.properties.steps.items.oneOf.map((o) => (o.properties.type as { const: string }).const);
    assert.deepEqual(kinds, [
      'enrich',
      'approve',
      'isolate',
      'ticket',
      'notify',
      'wait',
      'condition',
      'http',
    ]);
  });
});

describe('respond config', () => {
  test('a wrong adapter key or kind stops the start naming it', async () => {
    const { parseResponderConfig } = await import('../../src/respond/config.js');
    assert.throws(
      () => parseResponderConfig({ adapters: [{ name: 'x', kind: 'carrier-pigeon' }] }),
      /respond\.adapters\[0\]\.kind: one of/,
    );
    assert.throws(
      () => parseResponderConfig({ adapters: [{ name: 'gw', kind: 'nftables', tabel: 'x' }] }),
      /respond\.adapters\[0\]\.tabel: unknown key/,
    );
    assert.throws(
      () => parseResponderConfig({ approvers: [{ name: 'v', role: 'viewer' }] }),
      /respond\.approvers\[0\]\.role: analyst or admin/,
    );
  });
});

describe('audit chain', () => {
  test('an edited, removed or reordered line breaks the chain at that line', async () => {
    const { ResponseAudit } = await import('../../src/respond/audit.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const a = new ResponseAudit(`${mkdtempSync(`${tmpdir()}/vantage-audit-`)}/audit.jsonl`);
    for (let i = 0; i < 4; i++) a.append('step.done', { run_id: 'r-1', details: { i } });
    assert.deepEqual(a.verify(), { ok: true, entries: 4 });
    const lines = a.text().trim().split('\n');
    const edited = lines.map((l, i) => (i === 1 ? l.replace('"i":1', '"i":7') : l)).join('\n');
    assert.equal(verifyChain(edited).brokenAt, 2);
    assert.equal(verifyChain([lines[0], lines[2], lines[3]].join('\n')).brokenAt, 2);
    assert.equal(verifyChain([lines[1], lines[0]].join('\n')).brokenAt, 1);
  });
});

describe('vantage playbook (CLI)', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [`${ROOT}bin/vantage.js`, 'playbook', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });

  test('validate: exit 0, or 2 with every error naming key and line', () => {
    const ok = cli(['validate', `${DATA}isolate-scanner.yaml`, '--config', `${DATA}config.json`]);
    assert.equal(ok.status, 0, ok.stderr);
    const bad = cli(['validate', `${DATA}bad.yaml`]);
    assert.equal(bad.status, 2);
    const lines = bad.stderr.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.match(bad.stderr, /bad\.yaml:6: steps\[0\]\.colour: unknown key/);
    assert.match(bad.stderr, /bad\.yaml:12: steps\[2\]\.then: 'first' is not after this step: a loop/);
  });

  test('dry-run prints each step with its rendered requests and takes none', () => {
    const r = cli([
      'dry-run',
      `${DATA}isolate-scanner.yaml`,
      '--alert',
      `${DATA}alert.json`,
      '--config',
      `${DATA}config.json`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1\. ctx \[enrich\] gather summary, intel, presence, pcap for 10\.9\.0\.2/);
    assert.match(r.stdout, /3\. block \[isolate\] isolate 10\.9\.0\.2 through gw/);
    // The exact nft command line, and the ServiceNow request with the credentials masked.
    assert.match(
      r.stdout,
      /"ip",\s+"netns",\s+"exec",\s+"gw",\s+"nft",\s+"add",\s+"rule",\s+"inet",\s+"vantage_respond",\s+"block",\s+"ip",\s+"saddr",\s+"10\.9\.0\.2"/,
    );
    assert.match(r.stdout, /"url": "https:\/\/example\.service-now\.com\/api\/now\/table\/incident"/);
    assert.match(r.stdout, /"short_description": "Vantage isolated 10\.9\.0\.2: Port scan of 10\.9\.1\.2"/);
    assert.match(r.stdout, /"authorization": "\*\*\*"/);
    assert.match(r.stdout, /‹steps\.incident\.number›/);
    // Nothing was done: no gateway namespace was even needed.
    assert.doesNotMatch(r.stdout + r.stderr, /Cannot open network namespace/);
  });
});
