import assert from 'node:assert/strict';
import { test } from 'node:test';
import { probeHttp } from './http/probe.js';
import { probeSmb } from './smb/probe.js';
import { probeSsh } from './ssh/probe.js';
import { probeTls } from './tls/probe.js';

const b = (s: string | number[]): Buffer =>
  typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s);
const run = (f: (b: Buffer, o: number, l: number) => boolean, x: Buffer): boolean => f(x, 0, x.length);

test('probes accept their protocol and rule out others on the first payload', () => {
  for (const s of [
    'GET / HTTP/1.1\r\n',
    'OPTIONS\nHost: x\n',
    'M-SEARCH * HTTP/1.1',
    'HTTP/1.1 200 OK',
    'PROPF',
  ])
    assert.ok(run(probeHttp, b(s)), s);
  for (const s of ['\x16\x03\x01\x02\x00', 'SSH-2.0-OpenSSH', 'get / http/1.1', 'GE T /'])
    assert.ok(!run(probeHttp, b(s)), s);
  assert.ok(run(probeTls, b([22, 3, 1, 2, 0, 1])));
  assert.ok(run(probeTls, b([0x80, 0x2e, 1, 3, 1])));
  assert.ok(!run(probeTls, b('GET / HTTP/1.1')));
  assert.ok(run(probeSsh, b('SSH-2.0-OpenSSH_9.6\r\n')));
  assert.ok(!run(probeSsh, b([22, 3, 1, 2])));
  assert.ok(!run(probeSsh, b('GET / HTTP/1.1')));
  assert.ok(run(probeSmb, b([0, 0, 0, 0x40, 0xfe, 0x53, 0x4d, 0x42])));
  assert.ok(!run(probeSmb, b('GET / HTTP/1.1')));
});
