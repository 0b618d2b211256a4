import { readFileSync } from 'node:fs';
import type { AlertEmitter, RecordWatcher } from '../common/alerts.js';
import { validatePolicy } from '../policy/model.js';
import { PolicyRepo } from '../policy/repo.js';
import { PolicyWatcher } from '../policy/watcher.js';

/** What a command asks of its watchers (intel feeds, detectors, policy). */
export interface WatcherOptions {
  /** Data directory, when the command has one (baselines, approved policies, IOC store). */
  dataDir?: string;
  /** An approved policy document to check every flow against (`ingest --policy`). */
  policyFile?: string;
}

/**
 * The record watchers a command runs: every source of alerts that looks at records. Each
 * stage adds its own here (intel matcher, detectors, policy checker).
 */
export async function createWatchers(opts: WatcherOptions, emitter: AlertEmitter): Promise<RecordWatcher[]> {
  const out: RecordWatcher[] = [];
  // Policy: a file given on the command line wins over the data directory's active version.
  if (opts.policyFile) {
    out.push(new PolicyWatcher(emitter, validatePolicy(JSON.parse(readFileSync(opts.policyFile, 'utf8')))));
  } else if (opts.dataDir) {
    out.push(new PolicyWatcher(emitter, new PolicyRepo(opts.dataDir).active()));
  }
  return out;
}
