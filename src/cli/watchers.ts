import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import { createOfflineIntelWatcher } from '../intel/offline.js';

/** What a command asks of its watchers (intel feeds, detectors, policy). */
export interface WatcherOptions {
  /** Data directory, when the command has one (baselines, approved policies, IOC store). */
  dataDir?: string;
  /** Intel feed files to match records against (`--intel`). */
  intel?: readonly string[];
  /** Where watchers' own records go (intel sightings). */
  emit?: (rec: AnyRecord) => void;
}

/**
 * The record watchers a command runs: every source of alerts that looks at records. Each
 * stage adds its own here (intel matcher, detectors, policy checker).
 */
export async function createWatchers(opts: WatcherOptions, emitter: AlertEmitter): Promise<RecordWatcher[]> {
  const out: RecordWatcher[] = [];
  if (opts.intel && opts.intel.length > 0) {
    out.push(await createOfflineIntelWatcher(opts.intel, emitter, opts.emit ?? null));
  }
  return out;
}
