import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, ingest } from '../../../test/support/fixtures.js';
import { eth, ipv6, v6 } from '../../../test/support/packets.js';
import { newFrame } from '../../capture/frame.js';
import { Sensor, type SensorRecord } from '../../flow/sensor.js';
import { createArpAnalyzer } from '../arp/analyzer.js';
import { createDhcpAnalyzer, type DhcpRecord, parseDhcp } from '../dhcp/analyzer.js';
import { createDeviceInventory, type DeviceRecord } from './inventory.js';
import { macVendor } from './oui.js';

async function run(name: string): Promise<{ devices: DeviceRecord[]; dhcp: DhcpRecord[] }> {
  const out: SensorRecord[] = [];
  await ingest(fixture(name), (s) => {
    const inventory = createDeviceInventory((r) => out.push(r));
    s.addHook(createArpAnalyzer({ inventory }));
    s.addHook(createDhcpAnalyzer((r) => out.push(r), { inventory }));
    s.addHook(inventory);
  });
  return {
    devices: out.filter((r) => r.type === 'device') as unknown as DeviceRecord[],
    dhcp: out.filter((r) => r.type === 'dhcp') as unknown as DhcpRecord[],
  };
}

const arp = (op: number, sha: number[], spa: number[], tha: number[], tpa: number[]): number[] => [
  0,
  1,
  8,
  0,
  6,
  4,
  0,
  op,
  ...sha,
  ...spa,
  ...tha,
  ...tpa,
];
const M1 = [0x00, 0x19, 0x06, 0xea, 0xb8, 0xc1];
const M2 = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

function feed(frames: number[][]): SensorRecord[] {
  const out: SensorRecord[] = [];
  const s = new Sensor((r) => out.push(r));
  const inventory = createDeviceInventory((r) => out.push(r));
  s.addHook(createArpAnalyzer({ inventory }));
  s.addHook(inventory);
  const f = newFrame();
  frames.forEach((d, i) => {
    const b = Buffer.from(d);
    f.buf = b;
    f.off = 0;
    f.caplen = b.length;
    f.wirelen = b.length;
    f.tsSec = 1_700_000_000 + i;
    f.tsNs = 0;
    s.onFrame(f);
  });
  s.finish();
  return out.filter((r) => r.type === 'device');
}

describe('device inventory from ARP, ND and DHCP', () => {
  test('DHCP golden (tshark): one record per message', async () => {
    const { dhcp, devices } = await run('dhcp-dora.pcap');
    // [msg type, xid, chaddr, yiaddr, requested ip, hostname, server id] per frame, from tshark.
    const want = [
      [1, 1984, '90:b1:1c:99:49:29', '0.0.0.0', '192.168.211.194', 'btest.is.cool', null],
      [2, 1984, '90:b1:1c:99:49:29', '128.2.6.97', null, null, '128.2.6.152'],
      [3, 1984, '90:b1:1c:99:49:29', '0.0.0.0', '192.168.211.194', 'btest.is.cool', '128.2.6.152'],
      [6, 1984, '90:b1:1c:99:49:29', '0.0.0.0', null, null, '128.2.6.152'],
      [3, 1984, '90:b1:1c:99:49:29', '0.0.0.0', '128.2.6.189', 'btest.is.cool', null],
      [5, 1984, '90:b1:1c:99:49:29', '128.2.6.189', null, null, '128.2.6.152'],
      [4, 1984, '90:b1:1c:99:49:29', '0.0.0.0', null, null, null],
      [7, 1948, '90:b1:1c:99:49:29', '0.0.0.0', null, null, null],
      [8, 1988, '90:b1:1c:99:49:29', '0.0.0.0', '128.2.6.189', 'btest.is.cool', null],
    ];
    assert.deepEqual(
      dhcp.map((d) => [d.msg_type, d.xid, d.client_mac, d.yiaddr, d.requested_ip, d.hostname, d.server_id]),
      want,
    );
    assert.deepEqual(
      devices.map((d) => [d.ip, d.mac, d.hostname, d.sources, d.vendor]),
      [['128.2.6.189', '90:b1:1c:99:49:29', 'btest.is.cool', ['dhcp'], 'Dell Inc.']],
    );
  });

  test('ARP on VLAN 123 and on Linux cooked v2 (tshark sender pairs)', async () => {
    const v = await run('vlan-8021q-icmp-arp.pcap');
    assert.deepEqual(
      v.devices.map((d) => [d.ip, d.mac, d.vlan, d.status]),
      [
        ['192.168.123.1', '00:19:06:ea:b8:c1', 123, 'current'],
        ['192.168.123.2', '00:18:73:de:57:c1', 123, 'current'],
      ],
    );
    const s = await run('sll2-icmp-arp.pcap');
    assert.deepEqual(
      s.devices.map((d) => [d.ip, d.mac, d.vendor]),
      [['192.0.2.1', '8e:36:06:44:ac:af', null]],
    );
  });

  test('IPv6 neighbour discovery', async () => {
    const { devices } = await run('icmpv6-mixed-types.pcap');
    assert.deepEqual(devices.map((d) => [d.ip, d.mac]).sort(), [
      ['3ffe:507:0:1:200:86ff:fe05:80da', '00:00:86:05:80:da'],
      ['3ffe:507:0:1:260:97ff:fe07:69ea', '00:60:97:07:69:ea'],
      ['fe80::200:86ff:fe05:80da', '00:00:86:05:80:da'],
      ['fe80::260:97ff:fe07:69ea', '00:60:97:07:69:ea'],
    ]);
    assert.ok(devices.every((d) => d.sources.join() === 'nd'));
  });

  test('a MAC change emits the old binding and keeps it in previous_macs', () => {
    const ip = [10, 0, 0, 9];
    const recs = feed([
      eth(0x0806, arp(2, M1, ip, M2, [10, 0, 0, 1])),
      eth(0x0806, arp(2, M1, ip, M2, [10, 0, 0, 1])),
      eth(0x0806, arp(1, M2, ip, [0, 0, 0, 0, 0, 0], [10, 0, 0, 1])),
      // probe (sender 0.0.0.0) and a truncated ARP prove nothing
      eth(0x0806, arp(1, M1, [0, 0, 0, 0], [0, 0, 0, 0, 0, 0], ip)),
      eth(0x0806, arp(1, M1, ip, [0, 0, 0, 0, 0, 0], [10, 0, 0, 1]).slice(0, 20)),
    ]) as unknown as DeviceRecord[];
    assert.deepEqual(
      recs.map((d) => [d.mac, d.status, d.observations, d.previous_macs, d.vendor]),
      [
        ['00:19:06:ea:b8:c1', 'replaced', 2, [], 'Cisco Systems, Inc'],
        ['02:11:22:33:44:55', 'current', 1, ['00:19:06:ea:b8:c1'], null],
      ],
    );
    assert.equal(recs[0]!.last_ts, '2023-11-14T22:13:21.000000000Z');
  });

  test('ND: duplicate address detection from :: is skipped', () => {
    const ns = () => [135, 0, 0, 0, 0, 0, 0, 0, ...v6(9), 1, 1, ...M1];
    const unspecified = new Array(16).fill(0);
    const recs = feed([
      eth(0x86dd, ipv6(unspecified, v6(0xff), 58, ns())),
      eth(0x86dd, ipv6(v6(9), v6(0xff), 58, ns())),
    ]) as unknown as DeviceRecord[];
    assert.deepEqual(
      recs.map((d) => [d.ip, d.mac]),
      [['2001:db8::9', '00:19:06:ea:b8:c1']],
    );
  });

  test('DHCP parser: BOOTP without options, truncated options, not DHCP', () => {
    const base = new Array(236).fill(0);
    base[0] = 1;
    base[1] = 1;
    base[2] = 6;
    assert.equal(parseDhcp(Buffer.from(base), 0, 236)!.msg_type, null);
    const withOpts = [...base, 0x63, 0x82, 0x53, 0x63, 53, 1, 3, 12, 200, 0x61];
    const r = parseDhcp(Buffer.from(withOpts), 0, withOpts.length)!;
    assert.equal(r.msg_type_name, 'REQUEST');
    assert.equal(r.hostname, null);
    assert.equal(parseDhcp(Buffer.from([9, ...base.slice(1)]), 0, 236), null);
    assert.equal(parseDhcp(Buffer.from(base), 0, 100), null);
  });

  test('OUI vendor lookup', () => {
    assert.equal(macVendor('00:19:06:ea:b8:c1'), 'Cisco Systems, Inc');
    assert.equal(macVendor('02:00:00:00:00:01'), null);
    assert.equal(macVendor('zz'), null);
  });
});
