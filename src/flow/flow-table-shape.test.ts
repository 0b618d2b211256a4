import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { feedFrames } from '../../test/support/l7-kit.js';
import { eth, ipv4, udp } from '../../test/support/packets.js';
import { Sensor } from './sensor.js';

// V8's own test of two objects' hidden classes; the flag must be set before the function is
// parsed, hence `new Function`.
setFlagsFromString('--allow-natives-syntax');
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const dns = (sport: number): number[] =>
  eth(0x0800, ipv4({ proto: 17, src: '10.0.0.1', dst: '10.0.0.53' }, udp(sport, 53, [1, 2, 3, 4])));

test('the flow table keeps its hidden class once packet times pass 2^31 ns (no deopt of its methods)', () => {
  const fresh = new Sensor(() => {});
  const used = new Sensor(() => {});
  // Sweeps at 0 s and 3 s: the second sets the next sweep to 4e9 ns, past a small integer's range.
  feedFrames(used, [
    [0, dns(1000)],
    [0.5, dns(1001)],
    [3, dns(1002)],
    [5.25, dns(1003)],
  ]);
  assert.ok(sameMap(fresh.flows, used.flows), 'a table that swept past 2^31 ns has a new map');
  used.finish();
});
