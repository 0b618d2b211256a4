import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { memoryBudget } from '../common/budget.js';
import { parseDetectConfig } from './config.js';
import { createDetectors } from './index.js';
import { describeDetectCaps, ENTRY_BYTES, resolveDetectCaps, type StatePart } from './state-budget.js';

const MiB = 2 ** 20;
const BENCH = fileURLToPath(new URL('../../bench/detect-state.js', import.meta.url));

test('the caps come from the detectors share: at their caps the entries weigh no more than it', () => {
  const share = memoryBudget(768 * MiB).detect;
  const { cfg, caps } = resolveDetectCaps(parseDetectConfig({}), share);
  let bytes = 0;
  for (const [p, n] of Object.entries(caps.caps)) bytes += n * ENTRY_BYTES[p as StatePart];
  assert.ok(bytes <= share, `${bytes} > ${share}`);
  assert.deepEqual(caps.explicit, []);
  // The config carries them to the detectors; the scan detector keeps the most sources (a
  // spoofed flood's one-probe sources must not push a slow scanner out: the labelled capture
  // holds 30,302 at its peak).
  assert.equal(cfg.scan.maxSources, caps.caps.scan);
  assert.ok(cfg.scan.maxSources >= 32_000, `scan ${cfg.scan.maxSources}`);
  // Twice the share, at least twice the entries (the fixed part is taken once).
  const twice = resolveDetectCaps(parseDetectConfig({}), 2 * share).caps.caps;
  assert.ok((twice.flood ?? 0) >= 2 * (caps.caps.flood ?? 0) - 2);
  assert.ok((twice.flood ?? 0) <= 2.1 * (caps.caps.flood ?? 0));
  // A disabled detector takes no part: the others get more.
  const noScan = resolveDetectCaps(parseDetectConfig({ scan: { enabled: false } }), share).caps.caps;
  assert.equal(noScan.scan, undefined);
  assert.ok((noScan.flood ?? 0) > (caps.caps.flood ?? 0));
});

test('a count set in the config wins, the others share what it leaves, and the start line says so', () => {
  const share = 64 * MiB;
  const base = resolveDetectCaps(parseDetectConfig({}), share).caps;
  const { cfg, caps } = resolveDetectCaps(parseDetectConfig({ flood: { maxVictims: 9000 } }), share);
  assert.equal(cfg.flood.maxVictims, 9000);
  assert.equal(caps.caps.flood, 9000);
  assert.deepEqual(caps.explicit, ['detect.flood.maxVictims']);
  // 9,000 victims (~63 MB) leave almost nothing: the others fall to their floor.
  assert.ok((caps.caps.scan ?? 0) < (base.caps.scan ?? 0));
  assert.match(
    describeDetectCaps(caps),
    /detect\.flood\.maxVictims set in the config win: the detectors' state may exceed its share/,
  );
  assert.doesNotMatch(describeDetectCaps(base), /may exceed/);
  // Through the detector set too.
  const set = createDetectors({ scan: { maxSources: 77 } }, { emitter: { raise() {} }, stateBytes: share });
  assert.equal(set.caps.caps.scan, 77);
  assert.equal(set.caps.share, share);
});

test('a flood victim evicted at its byte-derived cap is still decided (onEvict)', () => {
  const alerts: { key?: unknown; detector?: unknown }[] = [];
  // A small share: every cap at its floor (256 victims).
  const set = createDetectors({}, { emitter: { raise: (a) => alerts.push(a) }, stateBytes: 1 });
  const victims = set.caps.caps.flood ?? 0;
  assert.equal(victims, 256);
  const t = Date.parse('2026-03-02T10:00:00Z');
  const syn = (dst: string, pkts: number, ms: number) =>
    set.onRecord({
      type: 'flow',
      client_ip: '198.51.100.7',
      server_ip: dst,
      client_port: 40000,
      server_port: 80,
      proto: 6,
      client_tcp_flags: 'S',
      server_tcp_flags: '',
      client_packets: pkts,
      server_packets: 0,
      client_ip_bytes: pkts * 60,
      first_ts: ms,
      last_ts: ms,
    });
  // 60,000 SYNs in one 10-s bucket: 6,000/s, past the 2,000/s threshold.
  syn('10.9.9.9', 60_000, t);
  // Then more victims than the cap, each past the per-victim gate but far under any threshold,
  // within the lateness: the first victim leaves by eviction, not by its bucket closing.
  for (let i = 0; i < victims + 10; i++) syn(`10.8.${i >> 8}.${i & 255}`, 600, t + 1000 + i);
  const flood = set.detectors.find((d) => d.name === 'flood')!;
  assert.ok((flood.counters.evicted ?? 0) >= 1);
  assert.ok(flood.size() <= victims);
  const a = alerts.find((x) => x.key === '10.9.9.9');
  assert.ok(a, 'the evicted victim was decided');
  assert.equal(a.detector, 'ddos.syn_flood');
});

test('the whole set fed to its caps with varied keys stays inside its share (heap after GC)', (t) => {
  if (!existsSync(BENCH)) return t.skip('bench not built');
  const share = 12 * MiB;
  // A child with --expose-gc: heap and ArrayBuffers measured after forced collections.
  // Each key seen once, as the churn that fills the maps makes them (a spoofed flood's sources,
  // random destinations); keys seen more often weigh more (a source's second probe makes its
  // slow window: ~3× the bytes) and are fewer (ENTRY_BYTES).
  const args = ['--expose-gc', BENCH, '--only', 'all', '--share', String(share), '--rounds', '1'];
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const w = JSON.parse(out.trim().split('\n').pop()!) as {
    rows: { name: string; entries: number; cap: number }[];
    bytes: number;
    share: number;
  };
  assert.equal(w.share, share);
  // Every map is at its cap.
  for (const r of w.rows) assert.equal(r.entries, r.cap, `${r.name} ${r.entries}/${r.cap}`);
  assert.ok(w.bytes <= share, `${(w.bytes / MiB).toFixed(1)} MiB > ${share / MiB} MiB`);
  // And the old count caps would not have: the same set weighs several times more at them.
  assert.ok(w.rows.find((r) => r.name === 'scan')!.entries < 50_000);
});
