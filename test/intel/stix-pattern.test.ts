import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compilePattern, evaluate, parsePattern, type Sdo } from '../../src/intel/stix-pattern.js';
import { runs } from '../support/fuzz.js';
import { needPython, runPython } from './oracle.js';

const obs = (objects: Record<string, Record<string, unknown>>, n = 1): Sdo & Record<string, unknown> => ({
  type: 'observed-data',
  spec_version: '2.1',
  id: 'observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf',
  created: '2024-01-18T00:00:00.000Z',
  modified: '2024-01-18T00:00:00.000Z',
  first_observed: '2024-01-18T00:00:00Z',
  last_observed: '2024-01-18T00:00:00Z',
  number_observed: n,
  objects,
});

const OBSERVATIONS = [
  obs({ '0': { type: 'ipv4-addr', value: '198.51.100.7' } }),
  obs({
    '0': { type: 'ipv4-addr', value: '10.1.2.3' },
    '1': { type: 'domain-name', value: 'evil.example.com' },
  }),
  obs({ '0': { type: 'domain-name', value: 'www.Example.org' } }),
  obs({ '0': { type: 'url', value: 'http://bad.example.net/payload.exe?x=1' } }),
  obs({
    '0': { type: 'ipv4-addr', value: '192.0.2.10' },
    '1': { type: 'ipv4-addr', value: '203.0.113.5' },
    '2': { type: 'network-traffic', src_ref: '0', dst_ref: '1', dst_port: 443, protocols: ['ipv4', 'tcp'] },
  }),
  obs({
    '0': {
      type: 'file',
      name: 'a.exe',
      size: 1024,
      hashes: { 'SHA-256': 'aa'.repeat(32), MD5: 'bb'.repeat(16) },
    },
  }),
  obs({ '0': { type: 'ipv6-addr', value: '2001:db8::1' } }, 2),
  obs({ '0': { type: 'email-addr', value: 'mallory@evil.example.com' } }),
];

const PATTERNS = [
  "[ipv4-addr:value = '198.51.100.7']",
  "[ipv4-addr:value = '198.51.100.8']",
  "[ipv4-addr:value != '198.51.100.7']",
  "[ipv4-addr:value IN ('10.1.2.3', '198.51.100.7')]",
  "[ipv4-addr:value NOT IN ('10.1.2.3')]",
  "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
  "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
  "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']",
  "[domain-name:value = 'evil.example.com']",
  "[domain-name:value LIKE '%.example.com']",
  "[domain-name:value LIKE 'www._xample.org']",
  "[domain-name:value MATCHES '^www\\\\.']",
  "[domain-name:value MATCHES '(?i)^WWW\\\\.example']",
  "[url:value LIKE 'http://bad.example.net/%']",
  "[url:value MATCHES '\\\\.exe']",
  "[ipv4-addr:value = '10.1.2.3' AND domain-name:value = 'evil.example.com']",
  "[ipv4-addr:value = '10.1.2.3' OR domain-name:value = 'nothing.example']",
  "[ipv4-addr:value = '10.1.2.3'] OR [domain-name:value = 'www.Example.org']",
  "[ipv4-addr:value = '10.1.2.3'] AND [domain-name:value = 'www.Example.org']",
  "[ipv6-addr:value = '2001:db8::1'] AND [ipv6-addr:value = '2001:db8::1']",
  "[network-traffic:dst_ref.value = '203.0.113.5']",
  "[network-traffic:dst_port = 443 AND network-traffic:src_ref.value = '192.0.2.10']",
  '[network-traffic:dst_port > 400]',
  '[network-traffic:dst_port <= 100]',
  "[network-traffic:protocols[*] = 'tcp']",
  "[network-traffic:protocols[0] = 'tcp']",
  "[file:hashes.'SHA-256' = '" + 'aa'.repeat(32) + "']",
  "[file:hashes.MD5 = '" + 'bb'.repeat(16) + "' AND file:size >= 1000]",
  '[file:size < 1000]',
  "[file:name = 'a.exe' AND file:size = 1024]",
  "[email-addr:value LIKE '%@evil.example.com']",
  "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '192.0.2.10'] AND [url:value LIKE '%payload%']",
  "([ipv4-addr:value = '203.0.113.5'] OR [domain-name:value = 'x.invalid']) AND [email-addr:value = 'mallory@evil.example.com']",
  "[domain-name:value NOT LIKE '%.example.com']",
  "[file:name NOT = 'a.exe']",
];

test('STIX pattern evaluation agrees with OASIS stix2-matcher on patterns × observations', (t) => {
  const py = needPython(t, 'stix2matcher');
  if (!py) return;
  const cases: { p: string; o: number }[] = [];
  for (const p of PATTERNS) for (let o = 0; o < OBSERVATIONS.length; o++) cases.push({ p, o });
  const truth = runPython(
    py,
    `
import sys, json
from stix2matcher.matcher import match
d = json.load(sys.stdin)
def bundle(o):
    # STIX 2.1 form: observed-data with object_refs beside the SCOs, refs by id
    ids = {k: '%s--00000000-0000-4000-8000-%012d' % (v['type'], i) for i, (k, v) in enumerate(o['objects'].items())}
    scos = []
    for k, v in o['objects'].items():
        v = dict(v, id=ids[k], spec_version='2.1')
        for p in list(v):
            if p.endswith('_ref'): v[p] = ids[v[p]]
            if p.endswith('_refs'): v[p] = [ids[x] for x in v[p]]
        scos.append(v)
    od = {x: y for x, y in o.items() if x != 'objects'}
    od['object_refs'] = list(ids.values())
    return {'type': 'bundle', 'id': 'bundle--00000000-0000-4000-8000-000000000000', 'objects': [od] + scos}
def one(c):
    try:
        return bool(match(c['p'], [bundle(d['obs'][c['o']])], stix_version='2.1'))
    except Exception as e:
        return 'error: %s' % e
print(json.dumps([one(c) for c in d['cases']]))
`,
    { obs: OBSERVATIONS, cases },
  ) as (boolean | string)[];
  const oracleErrors = truth.filter((x) => typeof x === 'string');
  assert.deepEqual(oracleErrors, [], 'the oracle must answer every case of the corpus');
  let agree = 0;
  let matched = 0;
  const disagreements: string[] = [];
  cases.forEach((c, i) => {
    const ours = evaluate(parsePattern(c.p), [OBSERVATIONS[c.o]!]);
    if (truth[i]) matched++;
    if (ours === truth[i]) agree++;
    else disagreements.push(`${c.p} on observation ${c.o}: oracle ${truth[i]}, ours ${ours}`);
  });
  assert.deepEqual(disagreements, []);
  assert.equal(agree, cases.length);
  // the corpus must exercise both answers, or agreement means nothing
  assert.ok(matched > 20 && matched < cases.length - 20, `oracle matched ${matched} of ${cases.length}`);
});

test('patterns feeds use compile into indicators; the rest are reported with a reason', () => {
  const ok = compilePattern(
    "[ipv4-addr:value = '198.51.100.0/24' OR domain-name:value IN ('A.example.com', 'b.example.com')]",
  );
  assert.deepEqual(ok, {
    ok: true,
    values: [
      { type: 'cidr', value: '198.51.100.0/24' },
      { type: 'domain', value: 'a.example.com' },
      { type: 'domain', value: 'b.example.com' },
    ],
  });
  const hash = compilePattern("[file:hashes.'SHA-256' = '" + 'AB'.repeat(32) + "']");
  assert.deepEqual(hash, { ok: true, values: [{ type: 'file_hash', value: 'ab'.repeat(32) }] });
  const r1 = compilePattern("[domain-name:value LIKE '%.example.com']");
  assert.equal(r1.ok, false);
  assert.match((r1 as { reason: string }).reason, /LIKE/);
  const r2 = compilePattern("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'x.com']");
  assert.match((r2 as { reason: string }).reason, /FOLLOWEDBY/);
  const r3 = compilePattern("[ipv4-addr:value = '1.2.3.4'");
  assert.match((r3 as { reason: string }).reason, /bad pattern: expected '\]'/);
});

test('the pattern parser never throws anything but PatternError on random input', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const c = compilePattern(s);
      assert.ok(c.ok === true || typeof c.reason === 'string');
    }),
    { numRuns: runs(2000) },
  );
  const pieces = [
    '[',
    ']',
    '(',
    ')',
    'ipv4-addr:value',
    '=',
    "'1.2.3.4'",
    'AND',
    'OR',
    'IN',
    'LIKE',
    'FOLLOWEDBY',
    'WITHIN 5 SECONDS',
    ',',
    "t'2024-01-01T00:00:00Z'",
  ];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 30 }), (a) => {
      const c = compilePattern(a.join(' '));
      assert.ok(c.ok === true || typeof c.reason === 'string');
    }),
    { numRuns: runs(2000) },
  );
});
