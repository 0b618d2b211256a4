import { columnarToRecords, wrapColumnAppend } from '../../store/columnar.js';
import type { RecordStore } from '../../store/types.js';
import type { IpfixExporter } from './ipfix-exporter.js';

/**
 * A record store that also exports every flow record it is given as IPFIX, so every ingest
 * path (capture uploads, live sources) feeds the exporter without knowing about it. Records are
 * exported once the store has acknowledged them.
 */
export function exportingStore(store: RecordStore, exporter: IpfixExporter): RecordStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (type: string, records: Parameters<RecordStore['append']>[1]) => {
          await target.append(type, records);
          if (type === 'flow') exporter.export(records as unknown as { type: string }[]);
        };
      }
      // Flow records also come as column batches (capture ingest): exported as records, made
      // only here, when an export is configured.
      if (prop === 'appendColumns' || prop === 'appendColumnParts')
        return wrapColumnAppend(target, prop, async (type, batches, inner) => {
          await inner();
          if (type === 'flow')
            for (const c of batches)
              exporter.export(columnarToRecords(c, type) as unknown as { type: string }[]);
        });
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
