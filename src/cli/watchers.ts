import type { AlertEmitter, RecordWatcher } from '../common/alerts.js';

/** What a command asks of its watchers (intel feeds, detectors, policy). */
export interface WatcherOptions {
  /** Data directory, when the command has one (baselines, approved policies, IOC store). */
  dataDir?: string;
}

/**
 * The record watchers a command runs: every source of alerts that looks at records. Each
 * stage adds its own here (intel matcher, detectors, policy checker).
 */
export async function createWatchers(
  _opts: WatcherOptions,
  _emitter: AlertEmitter,
): Promise<RecordWatcher[]> {
  return [];
}
