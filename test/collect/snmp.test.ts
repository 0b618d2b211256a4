import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Product, startProduct } from '../../src/cli/start.js';
import { parseSnmpConfig } from '../../src/collect/snmp/config.js';
import { silentLogger } from '../../src/common/log.js';
import { missingForNetns, Netns, requireOrSkip } from '../live/support.js';
import { freePort } from '../support/peers.js';

/**
 * Collected IPFIX from an exporter whose interfaces Debian's snmpd serves (the real interfaces
 * of a network namespace, with the aliases an operator set): every flow's interfaces carry the
 * ifName, ifAlias and speed that snmpwalk shows; the polls are stored with rates.
 */
const NS_ADDR = '10.199.0.2';
const HOST_ADDR = '10.199.0.1';
const IF_NAME = '1.3.6.1.2.1.31.1.1.1.1';
const IF_ALIAS = '1.3.6.1.2.1.31.1.1.1.18';
const IF_HIGH_SPEED = '1.3.6.1.2.1.31.1.1.1.15';

/** `snmpwalk -On` of one column: value by ifIndex. */
function walk(args: string[], oid: string): Map<number, string> {
  const r = spawnSync('snmpwalk', [...args, '-On', '-Oqv', '-Oe', NS_ADDR, oid], { encoding: 'utf8' });
  const r2 = spawnSync('snmpwalk', [...args, '-On', '-Oq', NS_ADDR, oid], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<number, string>();
  for (const line of r2.stdout.split('\n')) {
    const m = /^\.?([\d.]+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const idx = Number(m[1]!.slice(oid.length + 1));
    out.set(idx, m[2]!.replace(/^"|"$/g, ''));
  }
  return out;
}

/** One IPFIX message: a template and `flows` data records (v4, interfaces, counters). */
function ipfix(
  flows: { src: string; dst: string; inIf: number; outIf: number; bytes: number }[],
  seq: number,
): Buffer {
  const tmpl = Buffer.alloc(4 + 4 + 9 * 4);
  tmpl.writeUInt16BE(2, 0);
  tmpl.writeUInt16BE(tmpl.length, 2);
  tmpl.writeUInt16BE(256, 4);
  tmpl.writeUInt16BE(9, 6);
  const fields: [number, number][] = [
    [8, 4],
    [12, 4],
    [4, 1],
    [10, 4],
    [14, 4],
    [1, 8],
    [2, 8],
    [152, 8],
    [153, 8],
  ];
  fields.forEach(([id, len], i) => {
    tmpl.writeUInt16BE(id, 8 + i * 4);
    tmpl.writeUInt16BE(len, 10 + i * 4);
  });
  const recLen = 4 + 4 + 1 + 4 + 4 + 8 + 8 + 8 + 8;
  const data = Buffer.alloc(4 + recLen * flows.length);
  data.writeUInt16BE(256, 0);
  data.writeUInt16BE(data.length, 2);
  const now = BigInt(Date.now());
  flows.forEach((f, i) => {
    let o = 4 + i * recLen;
    for (const a of [f.src, f.dst]) for (const b of a.split('.')) data.writeUInt8(Number(b), o++);
    data.writeUInt8(6, o++);
    data.writeUInt32BE(f.inIf, o);
    data.writeUInt32BE(f.outIf, o + 4);
    data.writeBigUInt64BE(BigInt(f.bytes), o + 8);
    data.writeBigUInt64BE(10n, o + 16);
    data.writeBigUInt64BE(now - 2000n, o + 24);
    data.writeBigUInt64BE(now - 1000n, o + 32);
  });
  const hdr = Buffer.alloc(16);
  hdr.writeUInt16BE(10, 0);
  hdr.writeUInt16BE(16 + tmpl.length + data.length, 2);
  hdr.writeUInt32BE(Math.floor(Date.now() / 1000), 4);
  hdr.writeUInt32BE(seq, 8);
  hdr.writeUInt32BE(1, 12);
  return Buffer.concat([hdr, tmpl, data]);
}

describe('SNMP: exporters interfaces named from IF-MIB (snmpd in a namespace)', () => {
  let ns: Netns | null = null;
  let snmpd: ChildProcess | null = null;
  let dir = '';
  let snmpdLog = () => '';
  const missing = missingForNetns(['snmpd', 'snmpwalk']);
  const veth = `vsn${process.pid % 100000}`;

  before(() => {
    if (missing.length > 0) return;
    dir = mkdtempSync(join(tmpdir(), 'vantage-snmp-'));
    ns = new Netns('snmp');
    spawnSync('ip', ['link', 'del', `${veth}a`]);
    const sh = (args: string[]) => {
      const r = spawnSync('ip', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
    };
    sh(['link', 'add', `${veth}a`, 'type', 'veth', 'peer', 'name', `${veth}b`]);
    sh(['link', 'set', `${veth}b`, 'netns', ns.name]);
    sh(['addr', 'add', `${HOST_ADDR}/30`, 'dev', `${veth}a`]);
    sh(['link', 'set', `${veth}a`, 'up']);
    ns.exec('ip', ['addr', 'add', `${NS_ADDR}/30`, 'dev', `${veth}b`]);
    ns.exec('ip', ['link', 'set', `${veth}b`, 'up']);
    ns.exec('ip', ['link', 'set', `${veth}b`, 'alias', 'uplink to ISP-A']);
    // Two more interfaces of the "router", with their operators' descriptions.
    // veth pairs: the dummy driver is not in every kernel.
    ns.exec('ip', ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p']);
    ns.exec('ip', ['link', 'set', 'lan0', 'alias', 'office LAN, floor 2']);
    ns.exec('ip', ['link', 'set', 'lan0', 'up']);
    ns.exec('ip', ['link', 'add', 'dmz0', 'type', 'veth', 'peer', 'name', 'dmz0p']);
    ns.exec('ip', ['link', 'set', 'dmz0', 'alias', 'DMZ']);
    ns.exec('ip', ['link', 'set', 'dmz0', 'up']);
    writeFileSync(
      join(dir, 'snmpd.conf'),
      `agentAddress udp:${NS_ADDR}:161
rocommunity public 10.199.0.0/30
rwcommunity private 10.199.0.0/30
createUser vtuser SHA "vantage-auth-key" AES "vantage-priv-key"
rouser vtuser priv
`,
    );
    // Logs to a file: this hook waits with spawnSync, and a full stdout pipe would stall snmpd.
    const logFile = join(dir, 'snmpd.log');
    snmpd = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        'snmpd',
        '-f',
        '-Lf',
        logFile,
        '-C',
        '-c',
        join(dir, 'snmpd.conf'),
        '-p',
        join(dir, 'snmpd.pid'),
      ],
      { stdio: 'ignore', env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir, 'persist') } },
    );
    snmpdLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '');
    for (let i = 0; i < 50; i++) {
      const r = spawnSync('snmpget', [
        '-v2c',
        '-c',
        'public',
        '-t',
        '0.3',
        '-r',
        '0',
        NS_ADDR,
        '1.3.6.1.2.1.1.5.0',
      ]);
      if (r.status === 0) break;
      spawnSync('sleep', ['0.2']);
    }
  });

  after(() => {
    snmpd?.kill('SIGTERM');
    ns?.cleanup();
    spawnSync('ip', ['link', 'del', `${veth}a`]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names every flow interface as snmpwalk shows it (SNMPv3 authPriv), and stores the polls', async (t) => {
    if (!requireOrSkip(t, missing)) return;
    const v3 = [
      '-v3',
      '-l',
      'authPriv',
      '-u',
      'vtuser',
      '-a',
      'SHA',
      '-A',
      'vantage-auth-key',
      '-x',
      'AES',
      '-X',
      'vantage-priv-key',
    ];
    const names = (() => {
      try {
        return walk(v3, IF_NAME);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nsnmpd: ${snmpdLog()}`);
      }
    })();
    const speeds = walk(v3, IF_HIGH_SPEED);
    const byName = new Map([...names].map(([i, n]) => [n, i]));
    const up = byName.get(`${veth}b`);
    const lan = byName.get('lan0');
    assert.ok(up !== undefined && lan !== undefined, `snmpwalk names: ${[...names.values()].join(', ')}`);
    // net-snmp keeps ifAlias itself (set over SNMP, as an operator's NMS does), not from the kernel.
    for (const [i, a] of [
      [up, 'uplink to ISP-A'],
      [lan, 'office LAN, floor 2'],
    ] as const) {
      const r = spawnSync('snmpset', ['-v2c', '-c', 'private', NS_ADDR, `${IF_ALIAS}.${i}`, 's', a], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
    }
    const aliases = walk(v3, IF_ALIAS);
    assert.equal(aliases.get(up), 'uplink to ISP-A');

    const port = await freePort();
    const product: Product = await startProduct({
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      samples: false,
      log: silentLogger,
      print: () => {},
      collect: { host: HOST_ADDR, udpPorts: [port], tcpPorts: [] },
      snmp: parseSnmpConfig({
        exporters: {
          version: '3',
          user: { name: 'vtuser', authKey: 'vantage-auth-key', privKey: 'vantage-priv-key' },
        },
        interval: '5s',
      }),
    });
    try {
      const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
      const send = (flows: Parameters<typeof ipfix>[0], seq: number) => {
        const hex = ipfix(flows, seq).toString('hex');
        const js = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from('${hex}','hex'),${port},'${HOST_ADDR}',()=>s.close());`;
        ns!.exec(process.execPath, ['-e', js]);
      };
      // The first message makes the exporter known; its interfaces are polled at once.
      send([{ src: '192.0.2.1', dst: '198.51.100.1', inIf: up, outIf: lan, bytes: 1000 }], 1);
      const get = async (path: string) =>
        (await (
          await fetch(`${product.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as {
          items: Record<string, unknown>[];
        };
      let polled: Record<string, unknown>[] = [];
      for (let i = 0; i < 100 && polled.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        polled = (await get('/api/v1/records/snmp_interface?after=-1h&limit=100')).items;
      }
      assert.ok(polled.length >= 3, 'the exporter was polled');
      for (const p of polled) {
        const i = Number(p.if_index);
        assert.equal(p.device, NS_ADDR);
        assert.equal(p.if_name, names.get(i) ?? null, `ifName of ${i}`);
        assert.equal(p.if_alias ?? '', aliases.get(i) ?? '', `ifAlias of ${i}`);
        const hs = Number(speeds.get(i) ?? 0);
        if (hs > 0) assert.equal(p.if_speed, hs * 1e6, `speed of ${i}`);
      }
      // Flows from now on are named.
      const flows = Array.from({ length: 20 }, (_, k) => ({
        src: `192.0.2.${10 + k}`,
        dst: '198.51.100.7',
        inIf: k % 2 ? up : lan,
        outIf: k % 2 ? lan : up,
        bytes: 500 + k,
      }));
      send(flows, 2);
      let got: Record<string, unknown>[] = [];
      for (let i = 0; i < 100 && got.length < 20; i++) {
        await new Promise((r) => setTimeout(r, 200));
        got = (
          await get('/api/v1/records/exported_flow?after=-1h&limit=100&filter=dst_ip%20%3D%20198.51.100.7')
        ).items;
      }
      assert.equal(got.length, 20);
      for (const f of got) {
        for (const side of ['input', 'output']) {
          const i = Number(f[`${side}_if`]);
          assert.equal(f[`${side}_if_name`], names.get(i), `${side} name`);
          assert.equal(f[`${side}_if_alias`] ?? '', aliases.get(i) ?? '', `${side} alias`);
          const hs = Number(speeds.get(i) ?? 0);
          if (hs > 0) assert.equal(f[`${side}_if_speed`], hs * 1e6);
        }
      }
      // Filters work on the names (they are stored, not looked up at query time).
      const named = await get(
        `/api/v1/records/exported_flow?after=-1h&limit=100&filter=input_if_alias%20%3D%20%22uplink%20to%20ISP-A%22`,
      );
      assert.equal(named.items.length, 10);
    } finally {
      await product.stop();
    }
  });

  it('refuses a bad snmp config naming the key', () => {
    assert.throws(() => parseSnmpConfig({ devices: [{ host: 'router1' }] }), /snmp\.devices\[0\]\.host/);
    assert.throws(
      () => parseSnmpConfig({ exporters: { version: '3', user: { name: 'x', authKey: 'short' } } }),
      /authKey/,
    );
    assert.throws(
      () => parseSnmpConfig({ exporters: { version: '2c', user: { name: 'x' } } }),
      /snmp\.exporters\.user/,
    );
    assert.throws(() => parseSnmpConfig({}), /snmp/);
  });
});
