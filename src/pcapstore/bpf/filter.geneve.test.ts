import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCaptureFile } from '../../capture/capture-file.js';
import { compileFilter, FilterLinkError, FrameView } from './compile.js';
import { FilterSyntaxError, movesPastLink, parseFilter } from './parse.js';

/**
 * `geneve [vni]` against `tcpdump -r` (libpcap 1.10) on Geneve captures made by scapy: IPv4 and
 * IPv6 outer headers, outer IPv4 options and VLAN tags, option lengths 0 to 252 bytes, Ethernet
 * (TEB) and bare IPv4/IPv6 payloads, other Geneve versions, fragments, the port as source only,
 * and packets cut short at every layer. Both an Ethernet and a raw-IP capture are compared.
 */

const SCAPY = '/usr/bin/python3';

const GENERATOR = String.raw`
import random, struct, sys
from scapy.all import Ether, IP, IPv6, UDP, TCP, ARP, Dot1Q, Raw, ICMPv6EchoRequest, IPOption_NOP, IPOption_EOL, raw
from scapy.contrib.geneve import GENEVE
random.seed(18)
def geneve(vni, words, proto, ver=0):
    opts = bytes(random.getrandbits(8) for _ in range(words * 4))
    return bytes([(ver << 6) | words, 0]) + proto.to_bytes(2, 'big') + vni.to_bytes(3, 'big') + b'\0' + opts
M1, M2 = '02:00:00:00:00:01', '02:00:00:00:00:02'
inners = [
    (0x6558, raw(Ether(src=M1, dst=M2)/IP(src='10.0.0.1', dst='10.0.0.2')/TCP(sport=1234, dport=80, flags='S'))),
    (0x6558, raw(Ether(src=M2, dst=M1)/IP(src='10.0.0.2', dst='10.0.0.1')/TCP(sport=80, dport=1234, flags='SA'))),
    (0x6558, raw(Ether(src=M1, dst='ff:ff:ff:ff:ff:ff')/ARP(psrc='10.0.0.1', pdst='10.0.0.9'))),
    (0x6558, raw(Ether(src=M1, dst=M2)/IP(src='10.0.0.3', dst='10.0.0.1')/UDP(sport=5353, dport=53)/Raw(b'x' * 30))),
    (0x6558, raw(Ether(src=M1, dst='33:33:00:00:00:01')/IPv6(src='fd00::1', dst='ff02::1')/ICMPv6EchoRequest())),
    (0x6558, raw(Ether(src=M1, dst=M2)/IPv6(src='fd00::1', dst='fd00::2')/TCP(sport=4321, dport=80, flags='PA')/Raw(b'GET / HTTP/1.1\r\n'))),
    (0x6558, raw(Ether(src=M1, dst=M2)/Dot1Q(vlan=100)/IP(src='10.0.0.1', dst='10.0.0.5')/TCP(dport=80))),
    (0x6558, raw(Ether(src=M1, dst='01:00:5e:00:00:fb')/IP(src='10.0.0.1', dst='224.0.0.251')/UDP(sport=5353, dport=5353))),
    (0x0800, raw(IP(src='10.0.0.1', dst='10.0.0.7')/TCP(sport=999, dport=80, flags='S'))),
    (0x0800, raw(IP(src='10.0.0.8', dst='10.0.0.2')/UDP(sport=1, dport=53))),
    (0x86dd, raw(IPv6(src='fd00::1', dst='fd00::9')/UDP(sport=7, dport=80))),
    (0x1234, b'\x00' * 40),
]
vnis = [0x10, 0xb, 0, 0xffffff, 0x123456]
words = [0, 1, 2, 5, 63]
def outer4(payload, sport=40000, dport=6081, opts=False, frag=0, mf=False, vlan=None):
    ip = IP(src='192.168.1.1', dst='192.168.1.2', frag=frag, flags='MF' if mf else 0)
    if opts:
        ip.options = [IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()]
    l3 = ip/UDP(sport=sport, dport=dport)/Raw(payload)
    return raw(Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02')/(Dot1Q(vlan=vlan)/l3 if vlan else l3))
def outer6(payload, sport=40000, dport=6081):
    return raw(Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02')/IPv6(src='2001:db8::1', dst='2001:db8::2')/UDP(sport=sport, dport=dport)/Raw(payload))
pkts = []
for k, (proto, inner) in enumerate(inners):
    for j, vni in enumerate(vnis):
        w = words[(k + j) % len(words)]
        g = geneve(vni, w, proto)
        pkts.append(outer4(g + inner))
        pkts.append(outer6(g + inner))
        if j == 0:
            pkts.append(outer4(g + inner, opts=True))
            pkts.append(outer4(g + inner, vlan=5))
            pkts.append(outer4(geneve(vni, w, proto, ver=1) + inner))
            pkts.append(outer4(g + inner, sport=6081, dport=40000))
            pkts.append(outer4(g + inner, mf=True))
            pkts.append(outer4(g + inner, frag=100))
            pkts.append(outer6(g + inner, sport=6081, dport=40000))
            pkts.append(outer4(g + inner, dport=4789))
# The same inner packets unencapsulated, and short UDP to the Geneve port.
for proto, inner in inners:
    if proto == 0x6558:
        pkts.append(inner)
pkts.append(outer4(b'\x00\x00\x65'))
pkts.append(outer6(b''))
frames = [(p, len(p)) for p in pkts]
# Cut copies of a few packets at every 7th byte: each read past the captured bytes rejects.
for p in pkts[0:40:3]:
    for cut in range(14, len(p), 7):
        frames.append((p[:cut], len(p)))
def write(path, linktype, items):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for i, (b, wire) in enumerate(items):
            f.write(struct.pack('<IIII', i // 1000000, i % 1000000, len(b), wire))
            f.write(b)
write(sys.argv[1] + '/ether.pcap', 1, frames)
rawf = [(b[14:], wire - 14) for (b, wire) in frames if len(b) > 14 and b[12:14] in (b'\x08\x00', b'\x86\xdd')]
write(sys.argv[1] + '/raw.pcap', 101, rawf)
print(len(frames), len(rawf))
`;

/** Filters compared with tcpdump; the first five are the issue's. */
const FILTERS = [
  'geneve',
  'geneve 0x10',
  'geneve and host 10.0.0.1',
  'geneve and tcp port 80',
  'udp port 6081 and geneve',
  'geneve 0xb && ip',
  'geneve 0',
  'geneve 16777215',
  'geneve 0x123456 and ip6',
  'geneve and ip6 and tcp port 80',
  'geneve and ip6 host fd00::2',
  'geneve and arp',
  'geneve and arp host 10.0.0.9',
  'geneve and ether host 02:00:00:00:00:01',
  'geneve and ether src 02:00:00:00:00:02',
  'geneve and broadcast',
  'geneve and ether multicast',
  'geneve and ip multicast',
  'geneve and ip6 multicast',
  'geneve and ether[12:2] = 0x0800',
  'geneve and ether[0] & 1 != 0',
  'geneve and ip[9] = 6',
  'geneve and ip[12:4] = 0x0a000001',
  'geneve and tcp[tcpflags] & tcp-syn != 0',
  'geneve and tcp[tcpflags] == tcp-syn|tcp-ack',
  'geneve and udp[2:2] = 53',
  'geneve and icmp6[icmp6type] == icmp6-echo',
  'geneve and icmp6',
  'geneve and udp port 53',
  'geneve and src host 10.0.0.3',
  'geneve and net 10.0.0.0/24',
  'geneve and portrange 50-100',
  'geneve and vlan 100 and tcp port 80',
  'geneve and vlan and host 10.0.0.5',
  'geneve and not tcp',
  'geneve and (tcp or udp)',
  'geneve and (host 10.0.0.7 or host 10.0.0.8)',
  'geneve and ether proto 0x1234',
  'geneve and len > 200',
  'geneve and proto 17',
  'geneve and link[0] = 2',
  'not geneve',
  'ip or geneve',
  'tcp or geneve 0x10',
  'ip6 and geneve',
  'ip6 and geneve and host 10.0.0.1',
  'vlan and geneve',
  'vlan 5 and geneve and tcp',
  'src host 192.168.1.1 and geneve 0xb and udp',
  'host 192.168.1.1 and udp dst port 6081 and geneve and host 10.0.0.2',
  '(ip and udp) and geneve and tcp',
  'ip[6] & 0x20 = 0 and geneve',
];

/** Refused by us; whether tcpdump accepts them is recorded in the test. */
const REFUSED: [string, number, RegExp][] = [
  ['geneve or tcp', 0, /tests after 'geneve' that also run when it does not match/],
  ['not geneve and tcp', 4, /tests after 'geneve'/],
  ['(geneve or ip) and host 10.0.0.1', 1, /tests after 'geneve'/],
  ['geneve and host 10.0.0.1 or udp', 0, /tests after 'geneve'/],
  ['geneve and geneve 0x10', 0, /one 'geneve' per filter/],
  ['geneve 0x1000000', 7, /Geneve VNI/],
  ['vxlan', 0, /libpcap 1\.11/],
];

function tcpdump(path: string, filter: string): Promise<number[] | string> {
  return new Promise((resolve) => {
    execFile(
      'tcpdump',
      ['-r', path, '-w', '-', filter],
      { encoding: 'buffer', maxBuffer: 1 << 28 },
      (err, out, stderr) => {
        if (err) {
          resolve(stderr.toString().trim().split('\n').pop() ?? 'error');
          return;
        }
        const kept: number[] = [];
        for (let o = 24; o + 16 <= out.length; o += 16 + out.readUInt32LE(o + 8)) {
          kept.push(out.readUInt32LE(o) * 1e6 + out.readUInt32LE(o + 4));
        }
        resolve(kept);
      },
    );
  });
}

function peersPresent(): string | null {
  if (spawnSync('tcpdump', ['--version']).status !== 0) return 'tcpdump';
  if (spawnSync(SCAPY, ['-c', 'import scapy.contrib.geneve']).status !== 0) return 'python3-scapy';
  return null;
}

describe("'geneve' agrees with tcpdump -r", () => {
  const missing = peersPresent();
  if (missing && process.env.CI === 'true') throw new Error(`${missing} is required in CI`);
  const dir = mkdtempSync(join(tmpdir(), 'geneve-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps exactly the packets tcpdump keeps, Ethernet and raw IP', {
    skip: missing ? `${missing} not installed` : false,
  }, async () => {
    const gen = spawnSync(SCAPY, ['-c', GENERATOR, dir], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const failures: string[] = [];
    let agreed = 0;
    let kept = 0;
    const view = new FrameView();
    for (const [file, linkType] of [
      ['ether.pcap', 1],
      ['raw.pcap', 101],
    ] as const) {
      const path = join(dir, file);
      const frames: { b: Uint8Array; wire: number; lt: number }[] = [];
      await readCaptureFile(path, (f) => {
        frames.push({
          b: Uint8Array.from(f.buf.subarray(f.off, f.off + f.caplen)),
          wire: f.wirelen,
          lt: f.linkType,
        });
      });
      assert.ok(frames.length > 200, `${file}: ${frames.length} frames`);
      const lt = frames[0]!.lt;
      const truths = await Promise.all(FILTERS.map((f) => tcpdump(path, f)));
      for (let k = 0; k < FILTERS.length; k++) {
        const filter = FILTERS[k]!;
        const want = truths[k]!;
        const where = `${file} (link ${linkType}): ${filter}`;
        let ours: number[] | string;
        try {
          const c = compileFilter(filter).bind(lt);
          ours = [];
          for (let i = 0; i < frames.length; i++) {
            const f = frames[i]!;
            if (c.match(view.set(f.b, 0, f.b.length, f.wire))) ours.push(i);
          }
        } catch (e) {
          if (!(e instanceof FilterSyntaxError || e instanceof FilterLinkError)) throw e;
          ours = e.message;
        }
        if (typeof want === 'string' || typeof ours === 'string') {
          if (typeof want !== typeof ours) failures.push(`${where}: tcpdump ${want}; ours ${ours}`);
          continue;
        }
        const b = new Set(want);
        const a = new Set(ours);
        const extra = ours.filter((x) => !b.has(x));
        const miss = want.filter((x) => !a.has(x));
        if (extra.length || miss.length) {
          failures.push(
            `${where}: ours ${ours.length}, tcpdump ${want.length}; extra ${extra.slice(0, 5)} missing ${miss.slice(0, 5)}`,
          );
        } else {
          agreed++;
          kept += want.length;
        }
      }
    }
    console.log(`geneve: ${agreed} filter × capture pairs agree with tcpdump, ${kept} packets kept`);
    assert.deepEqual(failures, []);
    assert.ok(kept > 500, 'the filters keep real packets');

    // Refused ones name the position and why; tcpdump's verdict on each is noted.
    const path = join(dir, 'ether.pcap');
    for (const [filter, pos, why] of REFUSED) {
      assert.throws(
        () => compileFilter(filter).bind(1),
        (e: unknown) => e instanceof FilterSyntaxError && e.position === pos && why.test(e.message),
        filter,
      );
      const t = await tcpdump(path, filter);
      if (filter.startsWith('vxlan') || filter.includes('0x1000000'))
        assert.equal(typeof t, 'string', filter);
    }
  });
});

describe("'geneve' in the filter language", () => {
  it('parses with its VNI and keeps search from pruning by the outer flow', () => {
    assert.deepEqual(parseFilter('geneve 0x10'), { k: 'geneve', vni: 16, pos: 0 });
    assert.equal(movesPastLink(parseFilter('udp port 6081 and geneve and host 10.0.0.1')), true);
    assert.equal(movesPastLink(parseFilter('udp port 6081')), false);
  });

  it("refuses 'protochain' after it, as libpcap does", () => {
    assert.throws(
      () => compileFilter('geneve and protochain 6').bind(1),
      (e: unknown) => e instanceof FilterLinkError && e.position === 11 && /protochain/.test(e.message),
    );
  });
});
