import assert from 'node:assert/strict';
import { BlockList, isIPv6 } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { parseIpv6 } from '../common/addr.js';
import { firstGroup, NetSet } from './nets.js';

/** IPv6 text of 16 bytes in a random one of the forms a record may carry (full, compressed, upper case, v4 tail). */
function text(b: Uint8Array, form: number): string {
  const g = Array.from({ length: 8 }, (_, i) => ((b[i * 2]! << 8) | b[i * 2 + 1]!).toString(16));
  if (form === 1) return g.map((x) => x.padStart(4, '0').toUpperCase()).join(':');
  if (form === 2) return `${g.slice(0, 6).join(':')}:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (form === 3) {
    // The longest run of zero groups compressed, as RFC 5952 writes it.
    let best = -1;
    let len = 0;
    for (let i = 0; i < 8; ) {
      let j = i;
      while (j < 8 && g[j] === '0') j++;
      if (j - i > len && j - i > 1) {
        best = i;
        len = j - i;
      }
      i = j === i ? i + 1 : j;
    }
    if (best >= 0) return `${g.slice(0, best).join(':')}::${g.slice(best + len).join(':')}`;
  }
  return g.join(':');
}

const bytes = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  // Zero runs and the ULA / link-local / documentation prefixes are common in real traffic.
  const r = b[15]! % 4;
  if (r === 0) b.fill(0, 2, 12);
  if (r === 1) b[0] = 0xfd;
  if (r === 2) [b[0], b[1]] = [0xfe, 0x80];
  return b;
});

test('NetSet: IPv6 membership as node:net BlockList answers it, every text form, any prefix length', () => {
  fc.assert(
    fc.property(
      bytes,
      fc.integer({ min: 0, max: 3 }),
      bytes,
      fc.integer({ min: 0, max: 128 }),
      (a, form, n, len) => {
        const ip = text(a, form);
        const net = text(n, 0);
        const want = new BlockList();
        want.addSubnet(net, len, 'ipv6');
        assert.ok(isIPv6(ip), ip);
        const set = new NetSet([`${net}/${len}`, '10.0.0.0/8']);
        assert.equal(set.has(ip), want.check(ip, 'ipv6'), `${ip} in ${net}/${len}`);
      },
    ),
    { numRuns: runs(2000) },
  );
  const ula = new NetSet(['fc00::/7']);
  assert.equal(ula.has('fd12:3456::1'), true);
  assert.equal(ula.has('FD12:3456::1'), true);
  assert.equal(ula.has('2001:db8::1'), false);
  assert.equal(ula.has('::ffff:10.0.0.1'), false);
});

test('NetSet: malformed IPv6 text is never inside, whatever its first group', () => {
  const set = new NetSet(['fc00::/7', '::/0']);
  const narrow = new NetSet(['fd00::/8']);
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-fA-FxX:.]{1,45}$/), (s) => {
      if (!s.includes(':')) return;
      const valid = parseIpv6(s) !== null;
      if (!valid) {
        assert.equal(set.has(s), false, s);
        assert.equal(narrow.has(s), false, s);
      }
      // The first group read alone agrees with the full parse wherever it answers.
      const g = firstGroup(s);
      const b = parseIpv6(s);
      if (g >= 0 && b) assert.equal(g, (b[0]! << 8) | b[1]!, s);
    }),
    { numRuns: runs(3000) },
  );
});
