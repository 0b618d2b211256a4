import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, ingest } from '../../../test/support/fixtures.js';
import { Conversation, ofType, runFrames } from '../../../test/support/l7-kit.js';
import { createSshAnalyzer } from './analyzer.js';
import { findBanner, splitBanner } from './banner.js';

type R = Record<string, unknown>;

async function ssh(name: string): Promise<R[]> {
  const out: R[] = [];
  await ingest(fixture(name), (s) =>
    s.addHook(
      createSshAnalyzer((r) => {
        out.push(r);
      }),
    ),
  );
  return out.filter((r) => r['type'] === 'ssh');
}

describe('SSH banners', () => {
  test('banner after other lines, without CR LF', () => {
    const b = Buffer.from('hello there\r\nSSH-2.0-OpenSSH_9.6 Debian\r\nrest');
    const r = findBanner(b, 0, b.length)!;
    assert.equal(b.toString('latin1', r[0], r[1]), 'SSH-2.0-OpenSSH_9.6 Debian');
    assert.deepEqual(splitBanner('SSH-2.0-OpenSSH_9.6 Debian'), { version: '2.0', software: 'OpenSSH_9.6' });
    assert.equal(findBanner(Buffer.from('GET / HTTP/1.1\r\n'), 0, 16), null);
  });

  // Banners as tshark reports them (oracle ssh.banners of each capture).
  test('golden: ssh-single-connection.pcap', async () => {
    const [r] = await ssh('ssh-single-connection.pcap');
    assert.equal(r!['server_banner'], 'SSH-1.99-OpenSSH_3.9p1');
    assert.equal(r!['client_banner'], 'SSH-2.0-OpenSSH_3.8.1p1');
    assert.equal(r!['server_software'], 'OpenSSH_3.9p1');
    assert.equal(r!['version'], '1.99');
  });

  test('golden: SSH inside GRE and over IPv6', async () => {
    const [g] = await ssh('gre-tunnel-sample.pcap');
    assert.deepEqual(
      [g!['client_banner'], g!['server_banner']],
      ['SSH-2.0-OpenSSH_3.6.1p1', 'SSH-1.99-OpenSSH_3.1p1'],
    );
    const [v6] = await ssh('ipv6-mixed-tcp-udp-ssh-dns.pcap');
    assert.deepEqual([v6!['client_banner'], v6!['server_banner']], ['SSH-1.5-1.2.26', 'SSH-1.5-1.2.26']);
  });

  test('one banner only is still recorded at flow end', () => {
    const c = new Conversation('tcp', 40000, 2222).send(1, 'SSH-2.0-dropbear_2022.83\r\n');
    const recs = ofType(
      runFrames(c.frames, (sink) => [createSshAnalyzer(sink)]),
      'ssh',
    );
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!['server_software'], 'dropbear_2022.83');
    assert.equal(recs[0]!['client_banner'], null);
  });
});
