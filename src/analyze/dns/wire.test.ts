import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dnsMessage, optEcs, PTR_QNAME, qname, rr, u16, u32 } from './testing.js';
import { DnsHeader, parseHeader, parseSections, readName } from './wire.js';

function parse(msg: number[]) {
  const h = new DnsHeader();
  const b = Buffer.from(msg);
  const ok = parseHeader(b, 0, b.length, h);
  return { h, ok, b };
}

describe('DNS wire format', () => {
  test('header, question and flags of a response', () => {
    // 0x1032 q/r=1 rd ra, google.com TXT
    const { h, ok, b } = parse(dnsMessage({ id: 0x1032, flags: 0x8180, qd: [['google.com', 16]] }));
    assert.ok(ok);
    assert.equal(h.id, 0x1032);
    assert.ok(h.isResponse);
    assert.equal(h.rcode, 0);
    assert.equal(h.qtype, 16);
    assert.equal(readName(b, 0, b.length, h.qnameOff), 'google.com');
  });

  test('answers of every spelled-out type, with compression pointers', () => {
    const ptr = PTR_QNAME;
    const an = [
      rr({ name: ptr, type: 1, rdata: [192, 0, 2, 1] }),
      rr({ name: ptr, type: 28, rdata: [0x20, 1, 0x0d, 0xb8, ...new Array(11).fill(0), 1] }),
      rr({ name: ptr, type: 5, rdata: [3, 0x77, 0x77, 0x77, ...ptr] }),
      rr({ name: ptr, type: 15, rdata: [...u16(10), 4, ...Buffer.from('mail'), ...ptr] }),
      rr({ name: ptr, type: 16, rdata: [5, ...Buffer.from('hello'), 3, ...Buffer.from('a"b')] }),
      rr({ name: ptr, type: 33, rdata: [...u16(1), ...u16(5), ...u16(5060), ...ptr] }),
      rr({ name: ptr, type: 257, rdata: [0, 5, ...Buffer.from('issue'), ...Buffer.from('ca.example')] }),
      rr({
        name: ptr,
        type: 6,
        rdata: [...qname('ns1'), ...qname('host'), ...u32(1), ...u32(2), ...u32(3), ...u32(4), ...u32(5)],
      }),
      rr({
        name: ptr,
        type: 65,
        rdata: [...u16(1), 0, ...u16(1), ...u16(3), 2, 0x68, 0x32, ...u16(3), ...u16(2), ...u16(8443)],
      }),
      rr({ name: ptr, type: 99 + 1000, rdata: [1, 2, 3] }),
    ];
    const { h, ok } = parse(dnsMessage({ id: 1, flags: 0x8180, qd: [['example.com', 1]], an }));
    assert.ok(ok);
    const s = parseSections(h, 64);
    assert.equal(s.weird, null);
    assert.deepEqual(
      s.answers.map((a) => [a.type_name, a.data]),
      [
        ['A', '192.0.2.1'],
        ['AAAA', '2001:db8::1'],
        ['CNAME', 'www.example.com'],
        ['MX', '10 mail.example.com'],
        ['TXT', '"hello" "a\\"b"'],
        ['SRV', '1 5 5060 example.com'],
        ['CAA', '0 issue "ca.example"'],
        ['SOA', 'ns1 host 1 2 3 4 5'],
        ['HTTPS', '1 . alpn=h2 port=8443'],
        ['TYPE1099', '\\# 3 010203'],
      ],
    );
    assert.equal(s.answers[0]!.name, 'example.com');
  });

  test('a compression loop is an error, not a hang', () => {
    // answer owner name points at itself (offset of the answer record)
    const q = dnsMessage({ id: 2, flags: 0x8180, qd: [['a.b', 1]] });
    const self = q.length;
    const msg = [...q, ...rr({ name: [0xc0, self], type: 1, rdata: [1, 2, 3, 4] })];
    msg[7] = 1; // ancount
    const { h, b } = parse(msg);
    assert.equal(readName(b, 0, b.length, self), null);
    const s = parseSections(h, 64);
    assert.equal(s.weird, 'dns_name_pointer_loop');
    assert.equal(s.answers.length, 0);
  });

  test('two pointers pointing at each other', () => {
    // bytes 12..13 -> 14, 14..15 -> 12: a forward pointer is refused
    const msg = [...u16(3), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u16(0), 0xc0, 14, 0xc0, 12];
    const b = Buffer.from(msg);
    assert.equal(readName(b, 0, b.length, 12), null);
    assert.equal(readName(b, 0, b.length, 14), null);
  });

  test('truncated rdata keeps the records before it', () => {
    const an = [
      rr({ name: PTR_QNAME, type: 1, rdata: [10, 0, 0, 1] }),
      rr({ name: PTR_QNAME, type: 1, rdata: [10, 0, 0, 2] }),
    ];
    const full = dnsMessage({ id: 4, flags: 0x8180, qd: [['x.y', 1]], an });
    const { h } = parse(full.slice(0, full.length - 2));
    const s = parseSections(h, 64);
    assert.equal(s.weird, 'dns_truncated_rdata');
    assert.deepEqual(
      s.answers.map((a) => a.data),
      ['10.0.0.1'],
    );
  });

  test('truncated question and header', () => {
    const full = dnsMessage({ id: 5, flags: 0, qd: [['abc.example', 1]] });
    assert.equal(parse(full.slice(0, 20)).h.weird, 'dns_truncated_question');
    assert.equal(parse(full.slice(0, 11)).h.weird, 'dns_truncated_header');
    const bad = [...full.slice(0, 12), 0x80, 1, 2, 0, 0, 1, 0, 1];
    assert.equal(parse(bad).h.weird, 'dns_bad_label_type');
  });

  test('EDNS: UDP size, DO bit and client subnet', () => {
    const { h } = parse(
      dnsMessage({ id: 6, flags: 0x0100, qd: [['e.test', 1]], ar: [optEcs(4096, true, [213, 61, 29], 24)] }),
    );
    const s = parseSections(h, 0);
    assert.deepEqual(s.edns, {
      udpSize: 4096,
      extRcode: 0,
      version: 0,
      dnssecOk: true,
      clientSubnet: '213.61.29.0/24',
      subnetScope: 0,
    });
  });

  test('names: escapes, root, too long', () => {
    const odd = [
      ...u16(7),
      ...u16(0),
      ...u16(1),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      3,
      0x61,
      0x2e,
      0x20,
      0,
      ...u16(1),
      ...u16(1),
    ];
    const { b, h } = parse(odd);
    assert.equal(readName(b, 0, b.length, h.qnameOff), 'a\\.\\032');
    const root = parse(dnsMessage({ id: 8, flags: 0, qd: [['', 2]] }));
    assert.equal(readName(root.b, 0, root.b.length, root.h.qnameOff), '<Root>');
    const long = Array.from({ length: 5 }, () => 'x'.repeat(63)).join('.');
    const l = parse(dnsMessage({ id: 9, flags: 0, qd: [[long, 1]] }));
    assert.equal(readName(l.b, 0, l.b.length, l.h.qnameOff), null);
  });
});
