import fc from 'fast-check';
import type { AnyRecordDef } from '../../src/schema/registry.js';
import type { Rec } from '../../src/store/types.js';

/**
 * Fuzzed values for a registry field type: valid ones and the malformed text a store's
 * encoders must turn into NULL the same way on every path (bad addresses, MACs and times).
 */
export function fieldValue(t: string): fc.Arbitrary<unknown> {
  switch (t) {
    case 'ip':
      return fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('not-an-ip', '300.1.1.1', ''));
    case 'mac':
      return fc.oneof(fc.constantFrom('02:00:00:00:ff:01', 'AA-BB-CC-DD-EE-FF', 'zz:00'), fc.string());
    case 'ts':
      return fc.oneof(
        fc.integer({ min: 0, max: 4e12 }).map((ms) => new Date(ms).toISOString()),
        fc.constantFrom('2024-01-01T00:00:00.123456789Z', 'yesterday'),
      );
    case 'int':
      return fc.oneof(fc.integer(), fc.double({ min: -1e15, max: 1e15, noNaN: true }));
    case 'float':
      return fc.double({ noNaN: true });
    case 'bool':
      return fc.boolean();
    case 'string[]':
      return fc.array(fc.string());
    case 'int[]':
      return fc.array(fc.integer());
    case 'json':
      return fc.jsonValue();
    default:
      return fc.string({ unit: 'binary', maxLength: 300 });
  }
}

/** A record of `def` with every field fuzzed (null one time in four). */
export const fuzzedRecord = (def: AnyRecordDef): fc.Arbitrary<Rec> =>
  fc.record(
    Object.fromEntries(
      Object.entries(def.fields).map(([k, f]) => [k, fc.option(fieldValue(f.type), { freq: 4 })]),
    ),
  ) as fc.Arbitrary<Rec>;
