import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseFileConfig } from '../../src/cli/config-file.js';
import { productOptions } from '../../src/cli/start.js';
import { ConfigError } from '../../src/common/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A bad config and the key its error must name. */
const BAD: [string, unknown, string][] = [
  ['top level not an object', [1, 2], '(top level)'],
  ['unknown top-level key', { listne: '127.0.0.1:8080' }, 'listne'],
  ['listen without a port', { listen: 'localhost' }, 'listen'],
  ['retentionDays negative', { retentionDays: -1 }, 'retentionDays'],
  ['retentionBytes a string', { retentionBytes: '10G' }, 'retentionBytes'],
  ['rateLimit zero', { rateLimit: 0 }, 'rateLimit'],
  ['samples not a boolean', { samples: 'no' }, 'samples'],
  ['collect.udp port out of range', { collect: { udp: [2055, 70000] } }, 'collect.udp[1]'],
  ['collect.host not an address', { collect: { host: 'everywhere' } }, 'collect.host'],
  ['collect unknown key', { collect: { ports: [1] } }, 'collect.ports'],
  ['capture not a list', { capture: { interface: 'eth0' } }, 'capture'],
  ['capture without interface', { capture: [{ filter: 'tcp' }] }, 'capture[0].interface'],
  ['capture interface typo', { capture: [{ interface: 'eth0' }, { iface: 'eth1' }] }, 'capture[1].iface'],
  ['capture snaplen too small', { capture: [{ interface: 'eth0', snaplen: 10 }] }, 'capture[0].snaplen'],
  ['capture promisc not boolean', { capture: [{ interface: 'eth0', promisc: 1 }] }, 'capture[0].promisc'],
  ['capture workers fractional', { capture: [{ interface: 'eth0', workers: 1.5 }] }, 'capture[0].workers'],
  ['mirror vxlan bad port', { mirror: { vxlan: ['0.0.0.0:99999'] } }, 'mirror.vxlan[0]'],
  [
    'mirror vxlan host not an address',
    { mirror: { vxlan: ['0.0.0.0:4789', 'some.host:4789'] } },
    'mirror.vxlan[1]',
  ],
  ['mirror tzsp not a list', { mirror: { tzsp: '0.0.0.0:37008' } }, 'mirror.tzsp'],
  ['mirror gre not IPv4', { mirror: { gre: ['::1'] } }, 'mirror.gre[0]'],
  ['mirror unknown kind', { mirror: { geneve: ['0.0.0.0:6081'] } }, 'mirror.geneve'],
  ['packets.enabled not boolean', { packets: { enabled: 'yes' } }, 'packets.enabled'],
  ['packets.maxAgeHours negative', { packets: { maxAgeHours: -3 } }, 'packets.maxAgeHours'],
  ['packets.filter bad syntax', { packets: { filter: 'tcp port' } }, 'packets.filter'],
  ['packets unknown key', { packets: { maxbytes: 1 } }, 'packets.maxbytes'],
  ['uploads.maxPackets zero', { uploads: { maxPackets: 0 } }, 'uploads.maxPackets'],
  ['uploads unknown key', { uploads: { maxInflated: 1 } }, 'uploads.maxInflated'],
  ['uploads not an object', { uploads: 5 }, 'uploads'],
  ['flow timeout a string', { flow: { idleTimeout: '60' } }, 'flow.idleTimeout'],
  ['broker without targets', { broker: {} }, 'broker.targets'],
  [
    'broker target bad vni',
    { broker: { targets: [{ name: 'a', deliver: { type: 'vxlan', host: '10.0.0.1', vni: -1 } }] } },
    'broker.targets[0].deliver.vni',
  ],
  [
    'broker target bad filter',
    { broker: { targets: [{ name: 'a' }, { name: 'b', filter: 'port port' }] } },
    'broker.targets[1].filter',
  ],
  ['broker unknown key', { broker: { targets: [], decap: true } }, 'broker.decap'],
];

describe('config file validation', () => {
  for (const [what, cfg, key] of BAD) {
    test(`${what} names ${key}`, () => {
      assert.throws(
        () => parseFileConfig(cfg),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
          assert.equal(e.key, key, e.message);
          assert.ok(e.message.startsWith(`config: ${key}: `), e.message);
          return true;
        },
      );
    });
  }

  test('an unknown key suggests the close one', () => {
    assert.throws(() => parseFileConfig({ capture: [{ interfce: 'eth0' }] }), /did you mean 'interface'/);
  });

  const GOOD = {
    $comment: 'a sensor on a mirror port and a VPC mirror target',
    dataDir: '/var/lib/vantage',
    listen: '0.0.0.0:8080',
    retentionDays: 30,
    retentionBytes: 500_000_000_000,
    rateLimit: 1000,
    samples: false,
    collect: { host: '0.0.0.0', udp: [2055], tcp: [4739] },
    flow: { idleTimeout: 30, activeTimeout: 600 },
    capture: [{ interface: 'eth1', filter: 'not port 22', snaplen: 9000, promisc: true, workers: 2 }],
    mirror: { vxlan: ['0.0.0.0:4789'], tzsp: ['127.0.0.1:37008'], gre: ['0.0.0.0'] },
    packets: {
      enabled: true,
      maxBytes: 100_000_000_000,
      maxAgeHours: 72,
      snaplen: 0,
      filter: 'not port 443',
    },
    broker: {
      decapsulate: true,
      targets: [
        {
          name: 'ids',
          filter: 'tcp port 80',
          snaplen: 256,
          deliver: { type: 'vxlan', host: '10.0.0.5', port: 4789, vni: 100 },
        },
      ],
    },
  };

  test('a good config round-trips', () => {
    const c = parseFileConfig(GOOD);
    assert.equal(c.dataDir, GOOD.dataDir);
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(c.retentionDays, 30);
    assert.equal(c.retentionBytes, GOOD.retentionBytes);
    assert.equal(c.rateLimit, 1000);
    assert.equal(c.samples, false);
    assert.deepEqual(c.collect, GOOD.collect);
    assert.deepEqual(c.flow, GOOD.flow);
    assert.deepEqual(c.capture, GOOD.capture);
    assert.deepEqual(c.mirror, GOOD.mirror);
    assert.deepEqual(c.packets, GOOD.packets);
    assert.deepEqual(c.broker, GOOD.broker);
    // The validated config is valid input again.
    assert.deepEqual(parseFileConfig(JSON.parse(JSON.stringify({ ...GOOD }))), c);

    const o = productOptions({}, c);
    assert.equal(o.dataDir, '/var/lib/vantage');
    assert.equal(o.host, '0.0.0.0');
    assert.equal(o.port, 8080);
    assert.equal(o.samples, false);
    assert.deepEqual(o.collect, { host: '0.0.0.0', udpPorts: [2055], tcpPorts: [4739] });
    assert.deepEqual(o.capture, GOOD.capture);
    assert.deepEqual(o.broker, GOOD.broker);
  });

  test('carries the upload limits to the product', () => {
    const c = parseFileConfig({ uploads: { maxPackets: 1000, maxInflationRatio: 50 } });
    assert.deepEqual(productOptions({}, c).uploads, { maxPackets: 1000, maxInflationRatio: 50 });
  });

  test('command-line flags override the file', () => {
    const c = parseFileConfig(GOOD);
    const o = productOptions(
      {
        data: '/tmp/x',
        listen: '127.0.0.1:9000',
        'retention-days': '7',
        'rate-limit': '50',
        'collect-udp': 'none',
        'collect-host': '127.0.0.1',
      },
      c,
    );
    assert.equal(o.dataDir, '/tmp/x');
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 9000);
    assert.equal(o.retentionDays, 7);
    assert.equal(o.retentionBytes, GOOD.retentionBytes);
    assert.equal(o.rateLimit, 50);
    assert.deepEqual(o.collect, { host: '127.0.0.1', udpPorts: [], tcpPorts: [4739] });
    // No file: the defaults of the flags.
    const d = productOptions({}, {});
    assert.equal(d.dataDir, './data');
    assert.deepEqual(d.collect, { host: '127.0.0.1', udpPorts: [2055, 4739, 6343], tcpPorts: [] });
    assert.equal(d.samples, true);
  });

  test('a file that is not JSON names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-cfg-'));
    try {
      const f = join(dir, 'c.json');
      writeFileSync(f, '{"listen": ');
      assert.throws(() => loadConfigFile(f), new RegExp(`config: ${f}: not valid JSON`));
      assert.throws(() => loadConfigFile(join(dir, 'none.json')), /cannot read the config file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('vantage start --config with a bad key exits 2 naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-cfg-'));
    try {
      const f = join(dir, 'c.json');
      writeFileSync(f, JSON.stringify({ capture: [{ interface: '' }] }));
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/vantage.js'), 'start', '--config', f], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^vantage start: config: capture\[0\]\.interface: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('vantage start exits non-zero naming a source that cannot start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-cfg-'));
    try {
      const f = join(dir, 'c.json');
      writeFileSync(
        f,
        JSON.stringify({
          dataDir: join(dir, 'data'),
          listen: '127.0.0.1:0',
          samples: false,
          collect: { udp: [] },
          capture: [{ interface: 'vt-no-such0' }],
        }),
      );
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/vantage.js'), 'start', '--config', f], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 1, r.stderr);
      // Without the addon the live module's install hint; with it, no such interface (or the
      // privilege hint): either way the source is named.
      assert.match(r.stderr, /^vantage start: config: capture\[0\]: /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
