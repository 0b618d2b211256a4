import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fixture, GOLDEN, ingest } from '../../../test/support/fixtures.js';
import { FlowNotes } from '../flow-notes.js';
import { createQuicAnalyzer } from '../quic/analyzer.js';
import { createTlsAnalyzer } from './analyzer.js';

type R = Record<string, unknown>;

async function tlsRecords(name: string): Promise<R[]> {
  const notes = new FlowNotes();
  const out: R[] = [];
  const sink = (r: R): void => {
    out.push(r);
  };
  await ingest(fixture(name), (s) => {
    s.addHook(createTlsAnalyzer(sink, { notes }));
    s.addHook(createQuicAnalyzer(sink, { notes }));
  });
  return out.filter((r) => r['type'] === 'tls');
}

const sorted = (a: unknown[]): unknown[] => [...a].map(String).sort();

// SNI / JA3 / JA3S multisets equal tshark's (golden files derived from tshark 4.0.17).
for (const name of [
  'tls12-sni-chrome.pcap',
  'tls13-ech-cloudflare.pcap',
  'tls13-chrome-kyber-large-clienthello.pcap',
  'tls12-ja4-baseline-no-sni.pcap',
  'corrupt-record-length-tls.pcap',
]) {
  test(`tls golden: ${name}`, async () => {
    const golden = JSON.parse(readFileSync(`${GOLDEN}${name}.json`, 'utf8')) as R;
    const tls = (await tlsRecords(name)).filter((r) => r['quic'] === false);
    assert.deepEqual(
      sorted(tls.map((r) => r['sni']).filter((s) => s !== null)),
      sorted(golden['tls_sni'] as unknown[]),
    );
    assert.deepEqual(sorted(tls.map((r) => r['ja3'])), sorted(golden['tls_ja3'] as unknown[]));
    assert.deepEqual(
      sorted(tls.map((r) => r['ja3s']).filter((s) => s !== null)),
      sorted(golden['tls_ja3s'] as unknown[]),
    );
  });
}

describe('tls fixtures', () => {
  test('JA4 equals the FoxIO reference output recorded in suricata-verify', async () => {
    const base = JSON.parse(
      readFileSync(fixture('tls12-ja4-baseline-no-sni.pcap.ja4-baseline.json'), 'utf8'),
    ) as {
      fingerprints: { ja4: string; src_port: number }[];
    };
    const tls = await tlsRecords('tls12-ja4-baseline-no-sni.pcap');
    assert.deepEqual(
      tls.map((r) => [r['client_port'], r['ja4']]),
      base.fingerprints.map((f) => [f.src_port, f.ja4]),
    );
    assert.equal(tls[0]!['ja4'], 't12i1810s1_27d4652c4487_06a4338d0495');
  });

  test('TLS 1.2 certificate facts', async () => {
    const [r] = await tlsRecords('tls12-sni-chrome.pcap');
    assert.equal(r!['cert_subject'], 'C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.de');
    assert.equal(r!['cert_issuer'], 'C=US, O=Google Inc, CN=Google Internet Authority G2');
    assert.equal(r!['cert_not_before'], '2014-04-09T12:07:45.000000000Z');
    assert.equal(r!['cert_not_after'], '2014-07-08T00:00:00.000000000Z');
    assert.deepEqual(r!['cert_san'], ['*.google.de', 'google.de']);
    assert.equal(r!['version'], 'TLSv1.2');
    assert.equal(r!['cipher'], '0xc02f');
    assert.deepEqual(r!['alpn'], ['spdy/3', 'spdy/3.1', 'http/1.1']);
    assert.equal(r!['alpn_selected'], 'spdy/3.1');
  });

  test('TLS 1.3 with a 1.7 kB post-quantum ClientHello across segments', async () => {
    const [r] = await tlsRecords('tls13-chrome-kyber-large-clienthello.pcap');
    assert.equal(r!['sni'], 'lh3.google.com');
    assert.equal(r!['version'], 'TLSv1.3');
    assert.equal(r!['cert_subject'], null);
  });

  test('QUIC Initial: SNI, ALPN, JA3/JA3S as tshark, JA4 with the q prefix', async () => {
    const tls = await tlsRecords('quic-chromium-sni.pcap');
    assert.equal(tls.length, 1);
    const r = tls[0]!;
    assert.equal(r['quic'], true);
    assert.equal(r['proto'], 17);
    assert.equal(r['sni'], 'api.cirrus-ci.com');
    assert.deepEqual(r['alpn'], ['h3']);
    // tshark 4.0.17 tls.handshake.ja3 / ja3s for the QUIC Initial (oracle, carrier quic)
    assert.equal(r['ja3'], '526bdfecc3fb6cf46540d7ff70e88cec');
    assert.equal(r['ja3s'], '2b0648ab686ee45e0e7c35fcfb0eea7e');
    assert.equal(r['cipher'], '0x1301');
    assert.match(String(r['ja4']), /^q13d0311h3_55b375c5d22e_[0-9a-f]{12}$/);
  });
});
