/**
 * `vantage start` with IPFIX export: the flows of an uploaded capture reach a collector (our
 * own, on loopback) as IPFIX, one record per direction that carried packets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFileConfig } from '../../src/cli/config-file.js';
import { productOptions, startProduct } from '../../src/cli/start.js';
import { createCollector } from '../../src/collect/receiver.js';
import type { CollectedRecord } from '../../src/collect/types.js';
import { ConfigError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { fixture } from '../support/fixtures.js';

test('the flows of an uploaded capture are exported as IPFIX', async () => {
  const got: CollectedRecord[] = [];
  const collector = createCollector(
    { host: '127.0.0.1', udpPorts: [0], tcpPorts: [], stateDir: null, decodeInWorker: false },
    { sink: (b) => got.push(...b) },
  );
  await collector.start();
  const port = collector.addresses().udp[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'vantage-export-'));
  let admin = '';
  const product = await startProduct({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    samples: false,
    log: silentLogger,
    print: (s) => {
      admin = /vt_[A-Za-z0-9_-]+/.exec(s)?.[0] ?? admin;
    },
    export: { ipfix: [{ host: '127.0.0.1', port }] },
  });
  try {
    const body = readFileSync(fixture('http-methods-many.pcap'));
    const r = await fetch(`${product.url}/api/v1/captures?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' },
      body,
    });
    assert.equal(r.status, 201, await r.text());
    const flows = (await (
      await fetch(`${product.url}/api/v1/flows?limit=1000&fields=client_packets,server_packets`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as { items: { client_packets: number; server_packets: number }[] };
    const want = flows.items.reduce(
      (n, f) => n + (f.client_packets > 0 ? 1 : 0) + (f.server_packets > 0 ? 1 : 0),
      0,
    );
    const packets = flows.items.reduce((n, f) => n + f.client_packets + f.server_packets, 0);
    for (let i = 0; i < 100 && got.length < want; i++) await new Promise((res) => setTimeout(res, 50));
    const exported = got.filter((x) => x.type === 'exported_flow');
    assert.equal(exported.length, want);
    assert.equal(
      exported.reduce((n, x) => n + Number((x as { packets: number }).packets), 0),
      packets,
    );
  } finally {
    await product.stop();
    await collector.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export targets: from the config file and the flag, errors name the key', () => {
  const file = parseFileConfig({
    export: { ipfix: ['192.0.2.10:4739', '192.0.2.11'], observationDomain: 7 },
  });
  assert.deepEqual(file.export, {
    ipfix: [
      { host: '192.0.2.10', port: 4739 },
      { host: '192.0.2.11', port: 4739 },
    ],
    observationDomain: 7,
  });
  assert.deepEqual(productOptions({}, file).export, { ipfix: file.export!.ipfix, observationDomain: 7 });
  assert.deepEqual(productOptions({ 'export-ipfix': '198.51.100.1:2055' }, file).export?.ipfix, [
    { host: '198.51.100.1', port: 2055 },
  ]);
  for (const [cfg, key] of [
    [{ export: { ipfix: ['collector.example:4739'] } }, 'export.ipfix[0]'],
    [{ export: { ipfix: 'nope' } }, 'export.ipfix'],
    [{ export: { targets: [] } }, 'export.targets'],
    [{ export: { ipfix: [], observationDomain: -1 } }, 'export.observationDomain'],
  ] as const) {
    assert.throws(
      () => parseFileConfig(cfg),
      (e: unknown) => e instanceof ConfigError && e.key === key,
      JSON.stringify(cfg),
    );
  }
  assert.throws(
    () => productOptions({ 'export-ipfix': 'host-name:1' }, {}),
    (e: unknown) => e instanceof ConfigError,
  );
});
