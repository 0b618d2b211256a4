import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  alpnExt,
  Conversation,
  clientHelloMsg,
  ofType,
  records,
  runFrames,
  serverHelloMsg,
  sniExt,
  u16ListExt,
} from '../../../test/support/l7-kit.js';
import { FlowNotes } from '../flow-notes.js';
import { createTlsAnalyzer } from './analyzer.js';

const CH = clientHelloMsg({
  ciphers: [0x1301, 0x1302, 0xc02f],
  exts: [
    sniExt('big.example'),
    alpnExt(['h2']),
    u16ListExt(0x000a, [0x001d]),
    [0x0015, new Array(3000).fill(0)],
  ],
});
const SH12 = serverHelloMsg({ cipher: 0xc02f, exts: [[0xff01, [0]]] });
const SH13 = serverHelloMsg({ cipher: 0x1301, exts: [[0x002b, [3, 4]]] });

function run(c: Conversation, notes?: FlowNotes) {
  return runFrames(c.frames, (sink) => [createTlsAnalyzer(sink, notes ? { notes } : {})]);
}

describe('TLS analyzer', () => {
  test('a ClientHello cut into 1-byte segments and several records is reassembled', () => {
    const c = new Conversation('tcp', 40000, 8443)
      .send(0, records(22, CH, 700), 1)
      .send(1, Buffer.concat([records(22, SH13), Buffer.from([23, 3, 3, 0, 2, 1, 2])]))
      .fin();
    const notes = new FlowNotes();
    const tls = ofType(run(c, notes), 'tls');
    assert.equal(tls.length, 1);
    const r = tls[0]!;
    assert.equal(r['sni'], 'big.example');
    assert.deepEqual(r['alpn'], ['h2']);
    assert.equal(r['version'], 'TLSv1.3');
    assert.equal(r['cipher'], '0x1301');
    assert.equal(r['server_port'], 8443);
    assert.match(String(r['ja3']), /^[0-9a-f]{32}$/);
    assert.match(String(r['ja4']), /^t12d0304h2_/);
  });

  test('TLS 1.2: ServerHello and ServerHelloDone in one record; emitted once', () => {
    const done = Buffer.from([14, 0, 0, 0]);
    const c = new Conversation()
      .send(0, records(22, CH))
      .send(1, records(22, Buffer.concat([SH12, done])))
      .send(0, Buffer.from([20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 4, 0xde, 0xad, 0xbe, 0xef]))
      .fin();
    const tls = ofType(run(c), 'tls');
    assert.equal(tls.length, 1);
    assert.equal(tls[0]!['version'], 'TLSv1.2');
    assert.equal(tls[0]!['ja3s'] !== null, true);
  });

  test('a ClientHello alone is recorded at flow end', () => {
    const tls = ofType(run(new Conversation().send(0, records(22, CH))), 'tls');
    assert.equal(tls.length, 1);
    assert.equal(tls[0]!['ja3s'], null);
    assert.equal(tls[0]!['version'], null);
  });

  test('not TLS: nothing recorded, no weird', () => {
    const recs = run(new Conversation().send(0, 'GET / HTTP/1.1\r\n\r\n').send(1, 'HTTP/1.1 200 OK\r\n\r\n'));
    assert.equal(recs.length, 0);
  });

  test('a malformed ClientHello is a weird, not a crash', () => {
    const bad = Buffer.from(CH);
    bad[4 + 2 + 32 + 1 + 32] = 0xff; // cipher suites length runs past the message
    const recs = run(new Conversation().send(0, records(22, bad)));
    assert.deepEqual(
      ofType(recs, 'weird').map((w) => w['name']),
      ['tls_malformed_client_hello'],
    );
  });
});
