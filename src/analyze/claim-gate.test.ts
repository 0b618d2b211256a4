import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runs } from '../../test/support/fuzz.js';
import { Packet, TCP_ACK, TCP_SYN } from '../decode/packet.js';
import { claimGate, GateTable } from './claim-gate.js';
import { FlowNotes } from './flow-notes.js';
import type { Analyzer, FlowContext, FlowLookup } from './types.js';

/** Slots with settable generations; the context is never read here. */
class Flows implements FlowLookup {
  readonly gens = new Uint32Array(4096);
  generation(slot: number): number {
    return this.gens[slot]!;
  }
  context(): FlowContext {
    throw new Error('not used');
  }
}

function seg(payload: string, flags = TCP_ACK): Packet {
  const p = new Packet();
  p.buf = Buffer.from(`xxxx${payload}`, 'latin1');
  p.payloadOff = 4;
  p.payloadCapLen = payload.length;
  p.payloadLen = payload.length;
  p.tcpFlags = flags;
  return p;
}

/** An analyzer that notes which (slot, generation) it was handed and which ends it was told of. */
function recorder(flows: Flows): Analyzer & { got: string[]; ends: string[] } {
  const got: string[] = [];
  const ends: string[] = [];
  return {
    name: 'inner',
    got,
    ends,
    onPacket(_p, _f, slot) {
      got.push(`${slot}/${flows.generation(slot)}`);
      return undefined;
    },
    onFlowEnd(_rec, slot) {
      ends.push(`${slot}/${flows.generation(slot)}`);
    },
  };
}

test('a flow end reaches the analyzer exactly when a packet of that flow did', () => {
  const flows = new Flows();
  const inner = recorder(flows);
  const gate = claimGate(inner, new FlowNotes(), 'x', (b, off) => b[off] === 0x58 /* X */);
  const end = (slot: number): void => gate.onFlowEnd!({ app: null }, slot, flows);

  // Slot 1: its first payload passes the probe. Slot 2: it fails. Slot 3: no payload at all.
  gate.onPacket(seg('', TCP_SYN), flows, 1, 0);
  gate.onPacket(seg('Xhello'), flows, 1, 0);
  assert.equal(gate.onPacket(seg('nope'), flows, 2, 0), false);
  gate.onPacket(seg(''), flows, 3, 0);
  end(1);
  end(2);
  end(3);
  end(4000); // a slot the gate never saw (past its arrays)
  assert.deepEqual(inner.ends, ['1/0']);

  // Interim records and the final one of a flow it saw, every time.
  end(1);
  assert.deepEqual(inner.ends, ['1/0', '1/0']);

  // The slots' next flows: slot 1's fails the probe now, slot 2's passes; slot 3's sends nothing.
  flows.gens[1] = 1;
  flows.gens[2] = 1;
  flows.gens[3] = 1;
  assert.equal(gate.onPacket(seg('no'), flows, 1, 0), false);
  gate.onPacket(seg('Xyes'), flows, 2, 1);
  end(1);
  end(2);
  end(3);
  assert.deepEqual(inner.ends, ['1/0', '1/0', '2/1']);

  // A flow of slot 1 that never reaches the gate with a payload or a SYN after one that did.
  gate.onPacket(seg('Xagain'), flows, 5, 0);
  flows.gens[5] = 7;
  gate.onPacket(seg(''), flows, 5, 0);
  end(5);
  assert.deepEqual(inner.ends, ['1/0', '1/0', '2/1']);
  assert.deepEqual(inner.got, ['1/0', '1/0', '2/1', '5/0']);
});

test('after its first packets a flow reaches the analyzer only if the analyzer claimed it', () => {
  const flows = new Flows();
  const inner = recorder(flows);
  const notes = new FlowNotes();
  const gate = claimGate(inner, notes, 'x', (b, off) => b[off] === 0x58, 3);
  const send = (slot: number, payload: string, flags = TCP_ACK) =>
    gate.onPacket(seg(payload, flags), flows, slot, 0);
  for (const slot of [7, 3000]) {
    // A SYN and two payloads pass (the budget is 3 packets), then the analyzer must have claimed it.
    assert.equal(send(slot, '', TCP_SYN), undefined);
    assert.equal(send(slot, 'Xa'), undefined);
    assert.equal(send(slot, 'b'), undefined);
    notes.get(slot, 0).proto = 'x';
    assert.equal(send(slot, 'c'), undefined);
    assert.equal(send(slot, 'd'), undefined);
    // Not claimed: let go after the budget.
    flows.gens[slot + 1] = 0;
    assert.equal(send(slot + 1, 'Xa'), undefined);
    assert.equal(send(slot + 1, 'b'), undefined);
    assert.equal(send(slot + 1, 'c'), undefined);
    assert.equal(send(slot + 1, 'd'), false);
  }
  assert.deepEqual(inner.got, [
    ...['7/0', '7/0', '7/0', '7/0', '7/0', '8/0', '8/0', '8/0'],
    ...['3000/0', '3000/0', '3000/0', '3000/0', '3000/0', '3001/0', '3001/0', '3001/0'],
  ]);
});

/**
 * Gates sharing one table (a row per slot: the generation and a word per gate) decide and end
 * flows exactly as gates with a table each, whatever the order of packets, slots, generations,
 * claims and ends. Fails when a new generation resets only the gate's own word, or when two
 * gates' words overlap.
 */
test('gates sharing a table decide as gates with a table each', () => {
  const op = fc.record({
    slot: fc.constantFrom(0, 1, 2, 2047, 2048, 5000),
    gen: fc.integer({ min: 0, max: 2 }),
    payload: fc.constantFrom('', 'A', 'B', 'AB', 'BA', 'C'),
    syn: fc.boolean(),
    claim: fc.constantFrom(-1, 0, 1, 2),
    end: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
      const flows = new Flows();
      const logs: string[][] = [[], []];
      const shared = new GateTable();
      const letters = ['A', 'B', 'C'];
      const build = (k: number, table: GateTable | undefined) => {
        const notes = new FlowNotes();
        const gates = letters.map((ch, i) => {
          const inner: Analyzer = {
            name: ch,
            onPacket(_p, _f, slot) {
              logs[k]!.push(`${ch} got ${slot}/${flows.generation(slot)}`);
              return undefined;
            },
            onFlowEnd(_r, slot) {
              logs[k]!.push(`${ch} end ${slot}/${flows.generation(slot)}`);
            },
          };
          const probe = (b: Buffer, off: number) => b[off] === ch.charCodeAt(0) || b[off] === 0x42;
          return claimGate(inner, notes, ch, probe, i + 1, table);
        });
        return { notes, gates };
      };
      const sets = [build(0, shared), build(1, undefined)];
      for (const o of ops) {
        flows.gens[o.slot] = o.gen;
        for (let k = 0; k < 2; k++) {
          const { notes, gates } = sets[k]!;
          if (o.claim >= 0) notes.get(o.slot, o.gen).proto = letters[o.claim]!;
          for (const g of gates) {
            if (o.end) g.onFlowEnd!({ app: null }, o.slot, flows);
            else
              logs[k]!.push(
                `${g.name} says ${g.onPacket(seg(o.payload, o.syn ? TCP_SYN : TCP_ACK), flows, o.slot, 0)}`,
              );
          }
        }
        assert.deepEqual(logs[0], logs[1]);
      }
    }),
    { numRuns: runs(500) },
  );
});
