import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { feedFrames } from '../../../test/support/l7-kit.js';
import { eth, ipv4, udp } from '../../../test/support/packets.js';
import { Sensor, type SensorRecord } from '../../flow/sensor.js';
import { createDnsAnalyzer, type DnsRecord } from './analyzer.js';
import { dnsMessage, qname, rr } from './testing.js';
import { type DnsAnswer, DnsHeader, parseHeader, parseSections } from './wire.js';

/**
 * Answers are shared between messages (one object per distinct answer, one list per distinct
 * sequence) and queries awaiting a response are linked lists (dns/wire.ts, dns/analyzer.ts).
 * The truth here is what the messages were built from and a plain model of the pairing rule.
 */

const NAMES = ['a.test', 'b.test', 'cdn.b.test', 'x'];
const ans = fc.record({
  name: fc.constantFrom(...NAMES),
  // A (dotted quad) or a private type (RFC 3597 hex): both spelled from the rdata alone.
  type: fc.constantFrom(1, 65280),
  ttl: fc.constantFrom(0, 60, 300, 0xffffffff),
  rdata: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
});
type Ans = { name: string; type: number; ttl: number; rdata: number[] };

function expected(a: Ans): DnsAnswer {
  const hex = a.rdata.map((v) => v.toString(16).padStart(2, '0')).join('');
  return {
    name: a.name,
    type: a.type,
    type_name: a.type === 1 ? 'A' : 'TYPE65280',
    ttl: a.ttl,
    data: a.type === 1 ? a.rdata.join('.') : `\\# 4 ${hex}`,
  };
}

function message(an: Ans[], ns: Ans[]): { b: Buffer; ends: number[] } {
  const head = dnsMessage({ id: 1, flags: 0x8180, qd: [['a.test', 1]] });
  head[7] = an.length;
  head[9] = ns.length;
  const out = [...head];
  const ends: number[] = [];
  for (const a of [...an, ...ns]) {
    out.push(...rr({ name: qname(a.name), type: a.type, ttl: a.ttl, rdata: a.rdata }));
    ends.push(out.length);
  }
  return { b: Buffer.from(out), ends };
}

test('shared answers and lists read as each message was built, earlier ones unchanged', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.array(ans, { maxLength: 5 }), fc.array(ans, { maxLength: 2 }), fc.nat()), {
        minLength: 1,
        maxLength: 30,
      }),
      (msgs) => {
        const seen: [DnsAnswer[], DnsAnswer[], DnsAnswer[], DnsAnswer[]][] = [];
        for (const [an, ns, cutAt] of msgs) {
          const { b, ends } = message(an, ns);
          const h = new DnsHeader();
          // Cut after a whole record, or mid-record: what precedes a broken record is kept.
          const whole = cutAt % 2 === 0;
          const all = [...an, ...ns];
          const k = all.length === 0 ? 0 : cutAt % (all.length + 1);
          const end = k === all.length ? b.length : whole ? ends[k]! : ends[k]! - 2;
          assert.ok(parseHeader(b, 0, end, h));
          const s = parseSections(h, 64);
          const kept = k === all.length ? all.length : whole ? k + 1 : k;
          const wantAn = all.slice(0, Math.min(kept, an.length)).map(expected);
          const wantNs = all.slice(an.length, Math.max(kept, an.length)).map(expected);
          assert.deepEqual(s.answers, wantAn);
          assert.deepEqual(s.authority, wantNs);
          assert.equal(s.weird === null, end === b.length);
          seen.push([s.answers, structuredClone(wantAn), s.authority, structuredClone(wantNs)]);
        }
        for (const [a, wa, n, wn] of seen) {
          assert.deepEqual(a, wa);
          assert.deepEqual(n, wn);
        }
      },
    ),
    { numRuns: runs(300) },
  );
});

const C = '10.0.0.1';
const S = '10.0.0.53';

test('queries awaiting responses pair, time out and end as a plain model says', () => {
  // Events on one flow: a query (id, name) or a response (id, name), at increasing times.
  const ev = fc.tuple(
    fc.boolean(),
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom('a.test', 'b.test'),
    fc.nat(40),
  );
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (events, maxPending) => {
      const frames: [number, number[]][] = [];
      let tenths = 0;
      // The model: queries pending in arrival order; a response takes the first with its id and name.
      const pending: { id: number; name: string; t: number; n: number }[] = [];
      const want: string[] = [];
      const timeout = 10;
      let n = 0;
      for (const [isQuery, id, name, dt] of events) {
        // Times in whole tenths (a sum of fractions can round to a nanosecond field of 1e9).
        tenths += dt;
        const t = tenths / 10;
        // The analyzer's sweep (once a second of packet time) ends queries older than the timeout.
        const sweepLimit = Math.floor(t) - timeout;
        while (pending.length > 0 && Math.floor(pending[0]!.t) <= sweepLimit)
          want.push(`unanswered ${pending.shift()!.n}`);
        const msg = dnsMessage({ id, flags: isQuery ? 0x0100 : 0x8180, qd: [[name, 1]] });
        frames.push([
          t,
          eth(
            0x0800,
            ipv4(
              { proto: 17, src: isQuery ? C : S, dst: isQuery ? S : C },
              isQuery ? udp(40000, 53, msg) : udp(53, 40000, msg),
            ),
          ),
        ]);
        if (isQuery) {
          pending.push({ id, name, t, n: n++ });
          if (pending.length > maxPending) want.push(`unanswered ${pending.shift()!.n}`);
        } else {
          const i = pending.findIndex((p) => p.id === id && p.name === name);
          if (i < 0) want.push(`unsolicited ${id} ${name}`);
          else want.push(`answered ${pending.splice(i, 1)[0]!.n}`);
        }
      }
      for (const p of pending) want.push(`unanswered ${p.n}`);

      const out: SensorRecord[] = [];
      const s = new Sensor((r) => out.push(r));
      s.addHook(createDnsAnalyzer((r) => out.push(r), {}, { timeoutSec: timeout, maxPending }));
      feedFrames(s, frames);
      s.finish();
      const recs = out.filter((r) => r.type === 'dns') as unknown as DnsRecord[];
      // Which query a record is: its time names it (queries are numbered in arrival order).
      const qTimes = frames.filter((_, i) => events[i]![0]).map(([ft]) => ft);
      const got = recs.map((r) => {
        if (r.status === 'unsolicited') return `unsolicited ${r.trans_id} ${r.query}`;
        const sec = Date.parse(r.ts) / 1000 - 1_700_000_000;
        const i = qTimes.findIndex((qt) => Math.abs(qt - sec) < 1e-3);
        return `${r.status} ${i}`;
      });
      // Several queries at one time are told apart by the model's order among equals.
      assert.deepEqual(normalise(got, qTimes), normalise(want, qTimes));
    }),
    { numRuns: runs(120) },
  );
});

/** Query numbers replaced by their time (equal times cannot be told apart from the records). */
function normalise(lines: string[], qTimes: number[]): string[] {
  return lines.map((l) => {
    const m = /^(answered|unanswered) (\d+)$/.exec(l);
    return m ? `${m[1]} @${qTimes[Number(m[2])]}` : l;
  });
}
