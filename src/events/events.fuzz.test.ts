import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { parseIpv4, parseIpv6 } from '../common/addr.js';
import { parseCef } from './cef.js';
import { parseEveLine } from './eve.js';
import { ip, parseIsoMs } from './fields.js';
import { parseFirepower } from './firepower.js';
import { parseVpnLine, parseWindowsLogon } from './identity.js';
import { INGEST_FORMATS, ingestText, parseLine } from './ingest.js';
import { parseLeef } from './leef.js';
import { parseSyslogPayload } from './payload.js';
import { parseAccountingRequest } from './radius.js';
import { newCounters } from './types.js';

const SEEDS = [
  '{"timestamp":"2017-04-07T22:24:37.251547+0100","flow_id":586497171462735,"event_type":"alert","src_ip":"192.168.2.14","src_port":50096,"dest_ip":"209.53.113.5","dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2018358,"rev":10,"signature":"ET HUNTING","category":"Potentially Bad Traffic","severity":2}}',
  'CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|src=10.0.0.1 act=blocked a \\= dst=1.1.1.1 cs1Label=x cs1=y rt=1700000000000',
  'LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21^devTime=2024-01-18 10:00:00^devTimeFormat=yyyy-MM-dd HH:mm:ss',
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] CEF:0|a|b|1|2|n|3|src=10.0.0.1',
  '<185>Jun 15 21:13:30 ftd01 %FTD-1-430001: SrcIP: 192.168.10.20, DstIP: 10.10.10.5, SrcPort: 50432, DstPort: 80, Protocol: tcp, Priority: 1, GID: 1, SID: 2019284, Revision: 3, Message: ET TROJAN',
  '<133>Jan 18 10:00:00 fmc SFIMS: [1:2019284:3] "ET TROJAN" [Classification: x] [Priority: 1] {TCP} 10.0.0.1:1234 -> 10.0.0.2:80',
  '<13>Jan 18 10:00:00 dc EventID=4624 TargetUserName=alice TargetDomainName=CORP IpAddress=10.0.0.5',
  '%FTD-4-722051: Group <G> User <u> IP <198.51.100.7> IPv4 Address <10.1.1.5> assigned',
  '{"source":{"ip":"10.0.0.1"},"rule":{"name":"x"},"event":{"severity":"high"}}',
];

const mutated = fc
  .tuple(
    fc.nat(SEEDS.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { maxLength: 8 }),
    fc.nat(),
  )
  .map(([i, flips, cut]) => {
    const chars = [...SEEDS[i]!];
    for (const [p, c] of flips) chars[p % chars.length] = String.fromCharCode(c);
    const s = chars.join('');
    return cut % 4 === 0 ? s.slice(0, cut % (s.length + 1)) : s;
  });
const anyLine = fc.oneof(
  mutated,
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 120 }),
);

test('every parser returns a result, never throws, on random and mutated lines', () => {
  fc.assert(
    fc.property(anyLine, (s) => {
      for (const r of [
        parseEveLine(s),
        parseCef(s, 0),
        parseLeef(s, 0),
        parseFirepower(s, 0),
        parseVpnLine(s, 0),
        parseWindowsLogon(s, 0),
        parseSyslogPayload(s, 'auto', 0),
        parseSyslogPayload(s, 'rfc3164', 0),
        ...INGEST_FORMATS.map((f) => parseLine(f, s, { nowMs: 0 })),
      ]) {
        assert.ok(['event', 'identity', 'weird', 'other'].includes(r.kind));
        if (r.kind === 'weird' || r.kind === 'other') assert.match(r.name, /^[a-z0-9_]+$/);
        if (r.kind === 'event') {
          assert.ok(Number.isFinite(r.ts));
          assert.ok(r.severity >= 0 && r.severity <= 100);
          assert.ok(r.title.length <= 257);
        }
      }
    }),
    { numRuns: runs(2000) },
  );
});

test('a malformed line among good ones is counted and its neighbours still come through', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant(null), anyLine), { minLength: 1, maxLength: 20 }), (items) => {
      // null = a known-good EVE alert; everything else is junk (a junk line may parse too).
      const good = SEEDS[0]!;
      const lines = items.map((x) => (x === null ? good : x.replace(/[\r\n]/g, ' ')));
      const raised: unknown[] = [];
      const r = ingestText('eve', lines.join('\n'), { emitter: { raise: (a) => raised.push(a) } });
      const nGood = items.filter((x) => x === null).length;
      assert.ok(r.alerts >= nGood);
      assert.equal(raised.length, r.alerts);
      const weirds = Object.values(r.weird).reduce((a, b) => a + b, 0);
      assert.equal(r.accepted, r.alerts + r.other + r.identities + weirds);
    }),
    { numRuns: runs(500) },
  );
});

test('RADIUS packet parsing never throws on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      if (b.length >= 4) {
        b[0] = 4;
        const v = Math.min(b.length, 4096);
        b[2] = v >> 8;
        b[3] = v & 255;
      }
      const r = parseAccountingRequest(b, 'secret');
      assert.ok('kind' in r ? /^radius_[a-z_]+$/.test(r.name) : r.identifier >= 0);
    }),
    { numRuns: runs(2000) },
  );
  assert.equal(newCounters().received, 0);
});

test('Suricata timestamps read the same as Date.parse reads their RFC 3339 form', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 4e12 }),
          fc.integer({ min: 0, max: 999_999 }),
          fc.integer({ min: -720, max: 840 }),
        ),
        { minLength: 1, maxLength: 5 },
      ),
      (items) => {
        for (const [ms, us, off] of items) {
          const sec = Math.floor(ms / 1000) * 1000;
          const local = new Date(sec + off * 60_000).toISOString().slice(0, 19);
          const z = `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
          const frac = String(us).padStart(6, '0');
          const suri = `${local}.${frac}${z}`;
          const rfc = `${local}.${frac.slice(0, 3)}${z.slice(0, 3)}:${z.slice(3)}`;
          assert.equal(parseIsoMs(suri), Date.parse(rfc), suri);
          // twice: the second read takes the cached second
          assert.equal(parseIsoMs(suri), Date.parse(rfc), suri);
        }
      },
    ),
    { numRuns: runs(1000) },
  );
});

test('the IPv4 reader agrees with the common address parser', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.]{0,18}$/), (s) => {
      assert.equal(ip(s) !== null, parseIpv4(s) !== null || (s.length >= 2 && parseIpv6(s) !== null), s);
    }),
    { numRuns: runs(3000) },
  );
});
