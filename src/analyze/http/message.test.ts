import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  findHeadEnd,
  parseHead,
  requestStart,
  responseStart,
  START_MORE,
  START_NO,
  START_YES,
} from './message.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('HTTP message heads', () => {
  test('request recognition follows tshark: a known method token ending at a space or the line end', () => {
    const yes = [
      'GET / HTTP/1.1\r\n',
      'OPTIONS\nHost: x\n',
      'CCM_POST / HTTP/1.1\r\n',
      'M-SEARCH * HTTP/1.1\r\n',
    ];
    for (const s of yes) assert.equal(requestStart(B(s), 0, s.length), START_YES, s);
    const no = [
      'OPTIONSHTTP/1.1\n',
      'GET/ HTTP/1.1\n',
      'get / HTTP/1.1\n',
      '\xc3\x83 / HTTP/1.\n',
      '\x16\x03\x01',
    ];
    for (const s of no) assert.equal(requestStart(B(s), 0, s.length), START_NO, s);
    assert.equal(requestStart(B('GE'), 0, 2), START_MORE);
    assert.equal(responseStart(B('HTTP/1.1 200'), 0, 12), START_YES);
    assert.equal(responseStart(B('HTT'), 0, 3), START_MORE);
    assert.equal(responseStart(B('HTTX'), 0, 4), START_NO);
  });

  test('head end with CRLF or bare LF line ends', () => {
    assert.equal(findHeadEnd(B('GET / HTTP/1.1\r\nHost: a\r\n\r\nbody'), 0, 30), 27);
    assert.equal(findHeadEnd(B('GET / HTTP/1.1\nHost: a\n\nbody'), 0, 28), 24);
    assert.equal(findHeadEnd(B('GET / HTTP/1.1\r\nHost: a\r\n'), 0, 25), -1);
  });

  test('malformed request lines as tshark reports them', () => {
    const cases: [string, string | null, string | null][] = [
      ['OPTIONS * HTTP/1.1\n\n', '*', 'HTTP/1.1'],
      ['OPTIONS HTTP/1.1\n\n', 'HTTP/1.1', null],
      ['OPTIONS\n\n', null, null],
      ['GET / HTTP/1.\n\n', '/', 'HTTP/1.'],
      ['GET /HTTP/1.1\n\n', '/HTTP/1.1', null],
    ];
    for (const [s, uri, version] of cases) {
      const h = parseHead(B(s), 0, s.length, true);
      assert.equal(h.uri, uri, s);
      assert.equal(h.version, version, s);
    }
  });

  test('header fields: case-insensitive names, trimmed values, first Host wins, empty Host is null', () => {
    const s =
      'POST /x?a=1 HTTP/1.1\r\nhOsT:  example.com \r\nHost: other\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n' +
      'Content-Type: text/plain\r\nContent-Length: 12\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n';
    const h = parseHead(B(s), 0, s.length, true);
    assert.equal(h.method, 'POST');
    assert.equal(h.uri, '/x?a=1');
    assert.equal(h.host, 'example.com');
    assert.equal(h.userAgent, 'curl/8');
    assert.equal(h.referrer, 'http://r/');
    assert.equal(h.contentType, 'text/plain');
    assert.equal(h.contentLength, 12);
    assert.equal(h.chunked, true);
    const e = 'GET / HTTP/1.1\r\nHost: \r\nContent-Length: 1x\r\n\r\n';
    const he = parseHead(B(e), 0, e.length, true);
    assert.equal(he.host, null);
    assert.equal(he.contentLength, -1);
  });

  test('status lines', () => {
    const s = 'HTTP/1.1 404 Not Found\r\nServer: nginx\r\nLocation: /y\r\n\r\n';
    const h = parseHead(B(s), 0, s.length, false);
    assert.equal(h.version, 'HTTP/1.1');
    assert.equal(h.status, 404);
    assert.equal(h.reason, 'Not Found');
    assert.equal(h.server, 'nginx');
    assert.equal(h.location, '/y');
    assert.equal(parseHead(B('HTTP/1.1 20x OK\n\n'), 0, 16, false).status, null);
    assert.equal(parseHead(B('HTTP/1.0 200\n\n'), 0, 14, false).status, 200);
  });
});
