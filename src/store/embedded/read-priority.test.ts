import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../common/log.js';
import type { Rec } from '../types.js';
import { createEmbeddedStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'vantage-read-priority-'));
after(() => rmSync(root, { recursive: true, force: true }));

const flows = (n: number, from: number): Rec[] =>
  Array.from({ length: n }, (_, i) => ({
    client_ip: `10.0.${((from + i) >> 8) & 255}.${(from + i) & 255}`,
    server_ip: '192.0.2.1',
    client_port: 1024 + (i % 60000),
    server_port: 443,
    proto: 6,
    first_ts: new Date(1_700_000_000_000 + from + i).toISOString(),
    last_ts: new Date(1_700_000_000_000 + from + i).toISOString(),
    client_packets: 1,
    server_packets: 1,
    client_wire_bytes: 100 + (i % 7),
    server_wire_bytes: 200,
  }));

test('a commit waits for the queries already running (read priority), and only for those', async () => {
  const s = createEmbeddedStore(
    { dataDir: join(root, 'a'), threads: 1, readPriorityMs: 60_000 },
    { log: silentLogger },
  );
  await s.start();
  try {
    await s.append('flow', flows(100_000, 0));
    const order: string[] = [];
    // The query is registered before the append reaches the writer: the commit waits for it.
    const q = s.top({ type: 'flow', by: 'bytes', dim: 'client_ip', limit: 10 }).then((rows) => {
      order.push('query');
      return rows;
    });
    const a = s.append('flow', flows(10, 100_000)).then(() => order.push('append'));
    const [rows] = await Promise.all([q, a]);
    assert.deepEqual(order, ['query', 'append']);
    assert.equal(rows.length, 10);
    assert.equal(s.yieldedToReads.commits, 1);
    // No query running: the next commit does not wait.
    await s.append('flow', flows(10, 100_010));
    assert.equal(s.yieldedToReads.commits, 1);
    assert.equal(await s.count('flow', {}), 100_020);
  } finally {
    await s.stop();
  }
});
