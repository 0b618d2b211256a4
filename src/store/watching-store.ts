import type { AnyRecord, RecordWatcher } from '../common/alerts.js';
import { type Columnar, columnarToRecords, wrapColumnAppend } from './columnar.js';
import type { RecordStore } from './types.js';

/**
 * A record store that shows every record it is given to the record watchers (intel, detectors,
 * policy) before storing it, so every path that stores records (capture uploads, live
 * sources, the collector) is watched without knowing about it. Alerts themselves are not
 * shown: a watcher must not react to its own output.
 */
export function watchingStore(
  store: RecordStore,
  watchers: () => readonly RecordWatcher[],
  onError?: (w: RecordWatcher, e: unknown) => void,
): RecordStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (type: string, records: Parameters<RecordStore['append']>[1]) => {
          const ws = watchers();
          if (type !== 'alert') {
            for (const w of ws) {
              // A failing watcher costs its own findings, never the records or the other watchers.
              try {
                for (const r of records) w.onRecord((r.type === undefined ? { ...r, type } : r) as AnyRecord);
              } catch (e) {
                onError?.(w, e);
              }
            }
          }
          await target.append(type, records);
        };
      }
      if (prop === 'appendColumns' || prop === 'appendColumnParts')
        // Not async: an awaiting frame would keep the batches alive until the store commits them.
        return wrapColumnAppend(target, prop, (type, batches, inner) => {
          const ws = watchers();
          if (ws.length > 0 && type !== 'alert') for (const c of batches) watchColumns(ws, type, c, onError);
          return inner();
        });
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Show a column batch to the watchers: those that read columns get it as it is; objects are
 * made (once, shared) only when a watcher without a column path is there to read them.
 */
export function watchColumns(
  ws: readonly RecordWatcher[],
  type: string,
  c: Columnar,
  onError?: (w: RecordWatcher, e: unknown) => void,
): void {
  let records: ReturnType<typeof columnarToRecords> | null = null;
  for (const w of ws) {
    try {
      if (w.onColumns) w.onColumns(type, c);
      else {
        records ??= columnarToRecords(c, type);
        for (const r of records) w.onRecord(r as AnyRecord);
      }
    } catch (e) {
      onError?.(w, e);
    }
  }
}
