import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Conversation, ofType, type Rec, runFrames } from '../../../test/support/l7-kit.js';
import { FlowNotes } from '../flow-notes.js';
import { createHttpAnalyzer } from './analyzer.js';

function http(c: Conversation, notes?: FlowNotes): Rec[] {
  return runFrames(c.frames, (sink) => [createHttpAnalyzer(sink, notes ? { notes } : {})]);
}

const pick = (r: Rec, keys: string[]): Record<string, unknown> =>
  Object.fromEntries(keys.map((k) => [k, r[k]]));

describe('HTTP analyzer', () => {
  test('request and response split into 3-byte segments, with bodies', () => {
    const notes = new FlowNotes();
    const c = new Conversation('tcp', 40000, 8080)
      .send(0, 'POST /up HTTP/1.1\r\nHost: h.example\r\nUser-Agent: t/1\r\nContent-Length: 5\r\n\r\nhello', 3)
      .send(1, 'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok', 3)
      .fin();
    const recs = ofType(http(c, notes), 'http');
    assert.equal(recs.length, 1);
    assert.deepEqual(
      pick(recs[0]!, [
        'method',
        'host',
        'uri',
        'user_agent',
        'status',
        'request_body_bytes',
        'response_body_bytes',
      ]),
      {
        method: 'POST',
        host: 'h.example',
        uri: '/up',
        user_agent: 't/1',
        status: 201,
        request_body_bytes: 5,
        response_body_bytes: 2,
      },
    );
    assert.ok((recs[0]!['response_ms'] as number) > 0);
  });

  test('pipelined requests in one segment pair with responses in order; HEAD has no body', () => {
    const c = new Conversation('tcp', 40001, 80)
      .send(
        0,
        'GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n',
      )
      .send(
        1,
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nT: v\r\n\r\n',
      )
      .fin();
    const recs = ofType(http(c), 'http');
    assert.deepEqual(
      recs.map((r) => [r['uri'], r['status'], r['response_body_bytes'], r['trans_depth']]),
      [
        ['/a', 200, 3, 1],
        ['/b', 200, 0, 2],
        ['/c', 200, 9, 3],
      ],
    );
  });

  test('100 Continue is skipped; a request without a response and a response without a request are recorded', () => {
    const c = new Conversation('tcp', 40002, 80)
      .send(0, 'PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi')
      .send(1, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n')
      .send(0, 'GET /never HTTP/1.1\r\nHost: x\r\n\r\n')
      .fin();
    const recs = ofType(http(c), 'http');
    assert.deepEqual(
      recs.map((r) => [r['method'], r['uri'], r['status']]),
      [
        ['PUT', '/f', 204],
        ['GET', '/never', null],
      ],
    );
    const only = ofType(
      http(
        new Conversation('tcp', 40003, 80)
          .send(0, 'BREW /pot HTCPCP/1.0\r\n\r\n')
          .send(1, 'HTTP/1.0 400 Bad\r\n\r\n'),
      ),
      'http',
    );
    assert.deepEqual(
      only.map((r) => [r['method'], r['status']]),
      [[null, 400]],
    );
  });

  test('a lost segment inside a body is skipped and the next message still parsed', () => {
    const body = 'x'.repeat(3000);
    const c = new Conversation('tcp', 40004, 80)
      .send(0, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n')
      .send(1, `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${body.slice(0, 1000)}`)
      .lose(1, 1000)
      .send(1, `${body.slice(2000)}HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n`)
      .fin();
    const recs = ofType(http(c), 'http');
    assert.deepEqual(
      recs.map((r) => [r['uri'], r['status'], r['response_body_bytes']]),
      [
        ['/1', 200, 3000],
        ['/2', 404, 0],
      ],
    );
  });

  test('a response without length runs to the end of the connection; CONNECT stops parsing', () => {
    const c = new Conversation('tcp', 40005, 80)
      .send(0, 'GET / HTTP/1.0\r\n\r\n')
      .send(1, 'HTTP/1.0 200 OK\r\n\r\n0123456789')
      .fin();
    assert.equal(ofType(http(c), 'http')[0]!['response_body_bytes'], 10);
    const t = new Conversation('tcp', 40006, 3128)
      .send(0, 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n')
      .send(1, 'HTTP/1.1 200 Connection established\r\n\r\n')
      .send(0, '\x16\x03\x01\x00\x05hello')
      .fin();
    const recs = http(t);
    assert.deepEqual(
      ofType(recs, 'http').map((r) => [r['method'], r['status']]),
      [['CONNECT', 200]],
    );
    assert.equal(ofType(recs, 'weird').length, 0);
  });

  test('garbage after a message is a weird; an oversized head is a weird', () => {
    const c = new Conversation('tcp', 40007, 80)
      .send(0, 'GET / HTTP/1.1\r\n\r\n\x00\x01\x02garbage\r\n\r\n')
      .fin();
    assert.deepEqual(
      ofType(http(c), 'weird').map((r) => r['name']),
      ['http_bad_request_line'],
    );
    const big = new Conversation('tcp', 40008, 80).send(0, `GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`).fin();
    assert.deepEqual(
      ofType(http(big), 'weird').map((r) => r['name']),
      ['http_head_too_long'],
    );
  });

  test('flow notes get the protocol and Host', () => {
    const notes = new FlowNotes();
    let seen: unknown = null;
    const c = new Conversation('tcp', 40009, 80).send(0, 'GET / HTTP/1.1\r\nHost: n.example\r\n\r\n');
    runFrames(c.frames, (sink) => [
      createHttpAnalyzer(sink, { notes }),
      {
        name: 'probe',
        onPacket() {},
        onFlowEnd(_r, slot, fl) {
          seen = notes.peek(slot, fl.generation(slot));
        },
      },
    ]);
    assert.equal((seen as { proto: string }).proto, 'http');
    assert.equal((seen as { host: string }).host, 'n.example');
  });
});
