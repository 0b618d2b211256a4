import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, FrameView } from './compile.js';
import { FilterSyntaxError, parseFilter } from './parse.js';

/** Ethernet + IPv4 + TCP 10.0.0.1:1234 -> 10.0.0.2:80 (tcpdump: IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S]). */
const TCP = Buffer.from(
  '00112233445566778899aabb08004500002800014000400600000a0000010a00000204d200500000000000000000500220000000000000',
  'hex',
);
/** Same packet tagged with VLAN 100. */
const VLAN_TCP = Buffer.concat([TCP.subarray(0, 12), Buffer.from('81000064', 'hex'), TCP.subarray(12)]);

function match(filter: string, frame: Buffer, caplen = frame.length): boolean {
  const f = compileFilter(filter).bind(1);
  return f.match(new FrameView().set(frame, 0, caplen, frame.length));
}

describe('tcpdump filter compiler', () => {
  it('evaluates primitives as libpcap does', () => {
    assert.equal(match('tcp', TCP), true);
    assert.equal(match('udp', TCP), false);
    assert.equal(match('host 10.0.0.1', TCP), true);
    assert.equal(match('src host 10.0.0.2', TCP), false);
    assert.equal(match('dst port 80', TCP), true);
    assert.equal(match('port 80 or 443', TCP), true);
    assert.equal(match('host 10.0.0.9 or 10.0.0.2', TCP), true);
    assert.equal(match('portrange 70-90', TCP), true);
    assert.equal(match('net 10.0.0.0/24', TCP), true);
    assert.equal(match('net 10', TCP), true);
    assert.equal(match('ip proto 6', TCP), true);
    assert.equal(match('less 60', TCP), true);
    assert.equal(match('greater 61', TCP), false);
    assert.equal(match('ether host 00:11:22:33:44:55', TCP), true);
  });

  it("'vlan' moves later tests past the tag, in source order", () => {
    assert.equal(match('host 10.0.0.1', VLAN_TCP), false);
    assert.equal(match('vlan and host 10.0.0.1', VLAN_TCP), true);
    assert.equal(match('vlan 100 and tcp port 80', VLAN_TCP), true);
    assert.equal(match('vlan 200 or vlan 100', VLAN_TCP), false); // the second vlan looks 4 bytes on
  });

  it('gives and/or one precedence, left to right', () => {
    // (udp or tcp) and port 443 -> false; udp or (tcp and port 443) would be false too; check the other shape
    assert.equal(match('tcp or udp and port 443', TCP), false);
    assert.equal(match('tcp or (udp and port 443)', TCP), true);
    assert.equal(match('not tcp or tcp', TCP), true);
    assert.equal(match('!udp && tcp', TCP), true);
  });

  it('rejects a packet whose tested bytes were not captured', () => {
    assert.equal(match('not port 80', TCP, 36), false);
    assert.equal(match('host 10.0.0.1', TCP, 36), true);
  });

  it('reports the position and what was expected', () => {
    const cases: [string, number, RegExp][] = [
      ['host', 4, /address/],
      ['port 99999', 5, /port number/],
      ['tcp and', 7, /primitive/],
      ['(tcp', 4, /'\)'/],
      ['host 10.0.0.1 port 80', 14, /'and', 'or'/],
      ['host 300.1.1.1', 5, /address/],
      ['host example.com', 5, /not resolved/],
      ['tcp[13] & 2 != ', 15, /number, len/],
      ['tcp[13:3] = 0', 7, /size of 1, 2 or 4/],
      ['ip[0] / 0 = 1', 6, /divisor/],
      ['ip broadcast', 3, /netmask/],
      ['-ip[0] = 1', 0, /unary minus/],
      ['gateway 10.0.0.1', 0, /name resolution/],
      ['net 10.0.0.1/8', 4, /host bits/],
      ['udp host 1.2.3.4', 9, /'udp host' is not valid/],
      ['$', 0, /keyword/],
    ];
    for (const [text, pos, re] of cases) {
      assert.throws(
        () => parseFilter(text),
        (e: unknown) => e instanceof FilterSyntaxError && e.position === pos && re.test(e.message),
        text,
      );
    }
  });

  it('refuses hostile input quickly and without overflowing the stack', () => {
    const hostile = [
      '('.repeat(100_000),
      'not '.repeat(50_000),
      `${'tcp and '.repeat(2000)}tcp`,
      'x'.repeat(1 << 20),
      '\u0000\u0001',
      'host 1.1.1.1'.repeat(1000),
      `${'('.repeat(63)}tcp${')'.repeat(63)}`,
    ];
    for (const h of hostile) {
      const t0 = performance.now();
      try {
        parseFilter(h);
      } catch (e) {
        assert.ok(e instanceof FilterSyntaxError, String(e));
      }
      assert.ok(performance.now() - t0 < 200, 'parse time');
    }
  });
});
