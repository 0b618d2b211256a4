import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../../test/support/fuzz.js';
import { compileFilter, FilterLinkError, FrameView } from './compile.js';
import { FilterSyntaxError } from './parse.js';

const WORDS = [
  'host',
  'net',
  'port',
  'portrange',
  'src',
  'dst',
  'and',
  'or',
  'not',
  '!',
  '&&',
  '||',
  '(',
  ')',
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'ip',
  'ip6',
  'arp',
  'vlan',
  'geneve',
  '0x10',
  'proto',
  'less',
  'greater',
  'ether',
  '10.0.0.1',
  '::1',
  '80',
  '1-100',
  '10.0.0.0/8',
  '65536',
  'mask',
  '255.0.0.0',
  '\\tcp',
];

describe('filter compiler fuzz', () => {
  it('never throws anything but a syntax error, and evaluates any frame', () => {
    const view = new FrameView();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.array(fc.constantFrom(...WORDS), { maxLength: 14 }).map((w) => w.join(' ')),
        ),
        fc.uint8Array({ maxLength: 120 }),
        (text, frame) => {
          let c: ReturnType<typeof compileFilter>;
          try {
            c = compileFilter(text);
          } catch (e) {
            assert.ok(e instanceof FilterSyntaxError, String(e));
            return;
          }
          for (const lt of [1, 113, 276, 101]) {
            try {
              c.bind(lt).match(view.set(frame, 0, frame.length, frame.length));
            } catch (e) {
              assert.ok(e instanceof FilterLinkError, String(e));
            }
          }
        },
      ),
      { numRuns: runs(2000) },
    );
  });
});
