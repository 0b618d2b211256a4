import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/common/log.js';
import { flowRecord } from '../../src/schema/records.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import { parseFilter } from '../../src/store/filter.js';

const dir = mkdtempSync(join(tmpdir(), 'vantage-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Run the child until it acknowledged `minAcks` batches, then SIGKILL it mid-stream. */
function runAndKill(minAcks: number): Promise<[number, number][]> {
  const child = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'crash-child.js'), dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const acks: [number, number][] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child acknowledged only ${acks.length} batches in time`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const m = /^ack (\d+) (\d+)$/.exec(buf.slice(0, nl));
        if (m) acks.push([Number(m[1]), Number(m[2])]);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      if (acks.length >= minAcks && !child.killed) {
        // Let it get into the next batch (and possibly a compaction) before the kill.
        setTimeout(() => child.kill('SIGKILL'), 15);
      }
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (${signal})`));
      else resolve(acks);
    });
  });
}

it('every acknowledged batch survives SIGKILL during ingest, twice over', async () => {
  const acked: [number, number][] = [];
  for (const round of [5, 4]) {
    const got = await runAndKill(round);
    // The second run starts numbering again from 0: keep batches distinct by round.
    if (acked.length > 0) {
      const s = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
      await s.start();
      await s.stop();
    }
    acked.push(...got);
  }
  const s = createEmbeddedStore({ dataDir: dir, threads: 1 }, { log: silentLogger });
  await s.start();
  try {
    const stats = await s.stats();
    const total = acked.reduce((n, [, k]) => n + k, 0);
    assert.ok((stats.rows.flow ?? 0) >= total, `${stats.rows.flow} rows stored, ${total} acknowledged`);
    // Each acknowledged batch is there in full (batches of the two runs share ids: count both).
    const expect = new Map<number, number>();
    for (const [base, n] of acked) expect.set(base, (expect.get(base) ?? 0) + n);
    for (const [base, n] of expect) {
      const f = parseFilter(`flow_id >= ${base} and flow_id < ${base + 5000}`, flowRecord);
      const c = await s.count('flow', { filter: f });
      assert.ok(c >= n, `batch at ${base}: ${c} rows, ${n} acknowledged`);
    }
    assert.ok(stats.partitions > 0, 'compaction ran during the test');
  } finally {
    await s.stop();
  }
});
