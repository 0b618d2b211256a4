import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alpnExt, clientHelloMsg, sniExt, u16ListExt } from '../../../test/support/l7-kit.js';
import { ja3String, ja4, ja4Alpn, ja4FromParts, ja4Parts, md5Hex } from './fingerprint.js';
import { isGrease, parseClientHello } from './hello.js';

describe('JA4', () => {
  test('hashes of a published ja4_r example (Chrome 143, FoxIO raw form)', () => {
    const a = 't13d1516h2';
    const ciphers = '002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9';
    const exts = '0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01';
    const sigs = '0403,0804,0401,0503,0805,0501,0806,0601';
    assert.equal(ja4FromParts(a, ciphers, exts, sigs), 't13d1516h2_8daaf6152771_d8a2da3f94cd');
  });

  test('ALPN characters: first and last, hex nibbles when not alphanumeric, 00 when absent', () => {
    assert.equal(ja4Alpn('h2'), 'h2');
    assert.equal(ja4Alpn('http/1.1'), 'h1');
    assert.equal(ja4Alpn('spdy/3.1'), 's1');
    assert.equal(ja4Alpn(null), '00');
    assert.equal(ja4Alpn(''), '00');
    assert.equal(ja4Alpn('\xabx\xcd'), 'ad');
  });

  test('GREASE is dropped, SNI and ALPN are counted but not hashed, ciphers sorted, sig algs in order', () => {
    const msg = clientHelloMsg({
      ciphers: [0x0a0a, 0x1302, 0x1301, 0xc02b],
      exts: [
        [0x1a1a, []],
        sniExt('example.com'),
        alpnExt(['h2', 'http/1.1']),
        u16ListExt(0x002b, [0x2a2a, 0x0304, 0x0303], 1),
        u16ListExt(0x000d, [0x0804, 0x0403]),
        u16ListExt(0x000a, [0x3a3a, 0x001d]),
      ],
    });
    const h = parseClientHello(msg, 4, msg.length)!;
    assert.ok(h);
    assert.equal(h.sni, 'example.com');
    const [a, cs, es, sig] = ja4Parts(h, 't');
    assert.equal(a, 't13d0305h2');
    assert.equal(cs, '1301,1302,c02b');
    assert.equal(es, '000a,000d,002b');
    assert.equal(sig, '0804,0403');
    assert.match(ja4(h), /^t13d0305h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
    assert.match(ja4(h, 'q'), /^q13d0305h2_/);
    assert.equal(ja3String(h), '771,4866-4865-49195,0-16-43-13-10,29,');
  });

  test('no ciphers or extensions hash to zeros; no SNI is "i"', () => {
    const msg = clientHelloMsg({ version: 0x0301, ciphers: [], exts: [] });
    const h = parseClientHello(msg, 4, msg.length)!;
    assert.equal(ja4(h), 't10i000000_000000000000_000000000000');
  });
});

describe('JA3', () => {
  test('md5 of the JA3 string', () => {
    // JA3 string and hash of tls13-ech-cloudflare.pcap frame 7 as tshark reports them
    const s =
      '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,65281-16-13-51-45-17513-35-43-10-65037-23-5-18-11-0-27-21,29-23-24,0';
    assert.equal(md5Hex(s), '2fcbf8655473005933c5869b2b5d8044');
  });

  test('GREASE values', () => {
    for (let i = 0; i < 16; i++) assert.ok(isGrease(i * 0x1010 + 0x0a0a));
    assert.ok(!isGrease(0x0a1a));
    assert.ok(!isGrease(0x1301));
  });
});
