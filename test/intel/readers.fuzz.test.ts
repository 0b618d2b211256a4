import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_PARSE,
  FeedError,
  type ParseOptions,
  type ParseResult,
  ParseResult as Result,
} from '../../src/intel/feeds/common.js';
import { parseCsv, sniffCsvMapping } from '../../src/intel/feeds/csv.js';
import { addMispEvent, mispManifestEvents, parseMispSearch } from '../../src/intel/feeds/misp.js';
import { parseZeekIntel } from '../../src/intel/feeds/zeek.js';
import { normalizeIoc } from '../../src/intel/model.js';
import { runs } from '../support/fuzz.js';

const OPTS: ParseOptions = { ...DEFAULT_PARSE, sources: ['fuzz'], maxLine: 512, maxIndicators: 10_000 };

/** A reader either gives indicators in their canonical form or refuses the feed with a FeedError. */
function check(read: () => ParseResult): void {
  let r: ParseResult;
  try {
    r = read();
  } catch (e) {
    assert.ok(e instanceof FeedError, `not a feed error: ${(e as Error).stack}`);
    return;
  }
  for (const i of r.iocs) {
    const n = normalizeIoc(i.type, i.value);
    assert.deepEqual(n, { type: i.type, value: i.value });
    assert.ok(i.confidence >= 0 && i.confidence <= 100 && i.severity >= 0 && i.severity <= 100);
  }
  assert.ok(r.problems.length <= 20);
}

const CSV_SEED = [
  'value,type,confidence,severity,first_seen,tags,description',
  '203.0.113.7,ip,90,80,2024-01-18T00:00:00Z,c2;apt,"a ""quoted"" note"',
  'evil.example,domain,70,,1705536000,,',
  '198.51.100.0/24,cidr,,,,,',
  'http://evil.example/x?y=1,url,,,,,',
  `${'a'.repeat(64)},sha256,,,,,`,
].join('\n');

const ZEEK_SEED = [
  '#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.cif_confidence',
  '203.0.113.7\tIntel::ADDR\tfeed\tc2\thttp://x/\t9',
  '2001:db8::1\tIntel::ADDR\tfeed\t-\t-\t-',
  '198.51.100.0/24\tIntel::SUBNET\tfeed\t-\t-\t-',
  'evil.example\tIntel::DOMAIN\tfeed\t-\t-\t-',
  'evil.example/dl\tIntel::URL\tfeed\t-\t-\t-',
  'someone\tIntel::USER_NAME\tfeed\t-\t-\t-',
].join('\n');

const MISP_SEED = JSON.stringify({
  Event: {
    info: 'x',
    threat_level_id: '1',
    Tag: [{ name: 'tlp:white' }],
    Attribute: [
      {
        type: 'ip-dst',
        value: '203.0.113.7',
        to_ids: true,
        timestamp: '1705536000',
        category: 'Network activity',
      },
      { type: 'domain|ip', value: 'evil.example|203.0.113.8', to_ids: '1' },
      { type: 'filename|sha256', value: `x.exe|${'b'.repeat(64)}`, to_ids: 1 },
      { type: 'url', value: 'https://evil.example:443/a', to_ids: true, first_seen: '2024-01-18T00:00:00Z' },
    ],
    Object: [{ Attribute: [{ type: 'ip-src', value: '192.0.2.0/24', to_ids: true }] }],
  },
});

/** Mutations of a seed text: characters replaced, inserted, deleted, lines cut. */
const mutatedText = (seed: string): fc.Arbitrary<string> =>
  fc
    .array(
      fc.tuple(
        fc.nat(seed.length),
        fc.constantFrom('del', 'ins', 'rep', 'cut'),
        fc.oneof(
          fc.string({ maxLength: 4 }),
          fc.constantFrom('"', ',', '\t', '\n', '|', '/', ':', '{', '}', '-'),
        ),
      ),
      { maxLength: 8 },
    )
    .map((ops) => {
      let s = seed;
      for (const [at, op, txt] of ops) {
        const i = Math.min(at, s.length);
        if (op === 'del') s = s.slice(0, i) + s.slice(i + 1 + txt.length);
        else if (op === 'ins') s = s.slice(0, i) + txt + s.slice(i);
        else if (op === 'rep') s = s.slice(0, i) + txt + s.slice(i + txt.length);
        else s = s.slice(0, i);
      }
      return s;
    });

test('CSV reader: mutated and random feeds give canonical indicators or a feed error, never a crash', () => {
  fc.assert(
    fc.property(fc.oneof(mutatedText(CSV_SEED), fc.string({ maxLength: 300 })), (t) => {
      check(() => parseCsv(t, OPTS, sniffCsvMapping(t)));
      check(() => parseCsv(t, OPTS, { value: 0, type: 1, confidence: 2, delimiter: ',' }));
    }),
    { numRuns: runs(1500) },
  );
});

test('Zeek intel reader: mutated and random files give canonical indicators or a feed error', () => {
  fc.assert(
    fc.property(fc.oneof(mutatedText(ZEEK_SEED), fc.string({ maxLength: 300 })), (t) => {
      check(() => parseZeekIntel(t, OPTS));
    }),
    { numRuns: runs(1500) },
  );
});

test('MISP reader: mutated events, manifests and restSearch answers give canonical indicators or a feed error', () => {
  const m = { toIdsOnly: false, warninglists: [] };
  fc.assert(
    fc.property(fc.oneof(mutatedText(MISP_SEED), fc.json()), (t) => {
      check(() => {
        const r = new Result(OPTS);
        let doc: unknown;
        try {
          doc = JSON.parse(t);
        } catch {
          throw new FeedError('not JSON');
        }
        addMispEvent(r, doc, m, 'fuzz');
        return r;
      });
      check(() => parseMispSearch(t, OPTS, m));
      try {
        mispManifestEvents(t);
      } catch (e) {
        assert.ok(e instanceof FeedError, String(e));
      }
    }),
    { numRuns: runs(1500) },
  );
});
