import type { AlertEmitter, RecordWatcher } from '../common/alerts.js';
import { createDetectors } from '../detect/index.js';

/** What a command asks of its watchers (intel feeds, detectors, policy). */
export interface WatcherOptions {
  /** Data directory, when the command has one (baselines, approved policies, IOC store). */
  dataDir?: string;
  /** Behaviour detectors: false turns them off; otherwise the config file's `detect` section. */
  detect?: false | unknown;
}

/**
 * The record watchers a command runs: every source of alerts that looks at records. Each
 * stage adds its own here (intel matcher, detectors, policy checker).
 */
export async function createWatchers(opts: WatcherOptions, emitter: AlertEmitter): Promise<RecordWatcher[]> {
  const out: RecordWatcher[] = [];
  if (opts.detect !== false) {
    out.push(createDetectors(opts.detect, { emitter, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) }));
  }
  return out;
}
