import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { DnsNameCache } from '../dns/name-cache.js';
import { FlowNotes } from '../flow-notes.js';
import type { FlowLookup, FlowRecordPatch } from '../types.js';
import { createAppId } from './analyzer.js';
import { portService } from './ports.js';
import { registrableDomain, serviceOfHost } from './service-names.js';

const flows = { generation: () => 1, context: () => ({}) } as unknown as FlowLookup;

function app(
  rec: Record<string, unknown>,
  note?: { proto?: string; sni?: string; host?: string },
  dns?: [string, string],
) {
  const notes = new FlowNotes();
  if (note) Object.assign(notes.get(3, 1), note);
  const names = new DnsNameCache();
  if (dns) names.learn(dns[0], dns[1]);
  const r = { app: null, ...rec } as FlowRecordPatch;
  createAppId({ notes, names }).onFlowEnd(r, 3, flows);
  assert.equal(notes.peek(3, 1), null, 'the note is dropped');
  return r.app;
}

describe('application identification', () => {
  test('content and SNI first', () => {
    assert.equal(
      app({ proto: 6, server_port: 8443, client_port: 50000 }, { proto: 'tls', sni: 'www.google.de' }),
      'tls/google',
    );
    assert.equal(
      app({ proto: 17, server_port: 443, client_port: 50000 }, { proto: 'quic', sni: 'r3.googlevideo.com' }),
      'quic/google',
    );
    assert.equal(
      app({ proto: 6, server_port: 80, client_port: 50000 }, { proto: 'http', host: 'example.org:8080' }),
      'http/example.org',
    );
  });

  test('DNS names for the server address, then well-known ports', () => {
    const rec = { proto: 6, server_port: 443, client_port: 50000, server_ip: '157.240.1.35' };
    assert.equal(app(rec, undefined, ['157.240.1.35', 'www.facebook.com']), 'tls/facebook');
    assert.equal(app({ proto: 17, server_port: 53, client_port: 40000 }), 'dns');
    assert.equal(app({ proto: 6, server_port: 22, client_port: 40000 }), 'ssh');
    assert.equal(app({ proto: 17, server_port: 40000, client_port: 67 }), 'dhcp');
    assert.equal(app({ proto: 58, server_port: 0, client_port: 128 }), 'icmpv6');
    assert.equal(app({ proto: 6, server_port: 61000, client_port: 62000 }), null);
  });

  test('an app set by another analyzer is kept', () => {
    assert.equal(app({ proto: 6, server_port: 80, app: 'custom' }), 'custom');
  });

  test('ports and names', () => {
    assert.equal(portService(443, 17), 'quic');
    assert.equal(portService(445, 6), 'smb');
    assert.equal(portService(0, 6), null);
    assert.equal(registrableDomain('a.b.example.co.uk.'), 'example.co.uk');
    assert.equal(registrableDomain('10.0.0.1'), null);
    assert.equal(serviceOfHost('fg2.weberlab.de'), 'weberlab.de');
    assert.equal(serviceOfHost('www.amazon.co.uk'), 'amazon');
  });
});

test('one identifier over many flows: every pair of protocol and service named as itself', () => {
  const notes = new FlowNotes();
  const a = createAppId({ notes, names: new DnsNameCache() });
  const hosts = ['www.google.de', 'r3.googlevideo.com', 'example.org', 'cdn.example.net', 'a.b.c.d.e'];
  const protos = ['tls', 'quic', 'http'];
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 4 })), { maxLength: 30 }),
      (flowsSeen) => {
        for (const [pi, hi] of flowsSeen) {
          Object.assign(notes.get(3, 1), { proto: protos[pi], sni: hosts[hi] });
          const r = { app: null, proto: 6, server_port: 443, client_port: 50000 } as FlowRecordPatch;
          a.onFlowEnd(r, 3, flows);
          assert.equal(r.app, `${protos[pi]}/${serviceOfHost(hosts[hi]!)}`);
        }
      },
    ),
    { numRuns: runs(200) },
  );
});
