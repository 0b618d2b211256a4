import { readFileSync } from 'node:fs';
import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import { createDetectors } from '../detect/index.js';
import { describeDetectCaps } from '../detect/state-budget.js';
import { createOfflineIntelWatcher } from '../intel/offline.js';
import { validatePolicy } from '../policy/model.js';
import { PolicyRepo } from '../policy/repo.js';
import { PolicyWatcher } from '../policy/watcher.js';

/** What a command asks of its watchers (intel feeds, detectors, policy). */
export interface WatcherOptions {
  /** Data directory, when the command has one (baselines, approved policies, IOC store). */
  dataDir?: string;
  /** An approved policy document to check every flow against (`ingest --policy`). */
  policyFile?: string;
  /** Intel feed files to match records against (`--intel`). */
  intel?: readonly string[];
  /** Where watchers' own records go (intel sightings). */
  emit?: (rec: AnyRecord) => void;
  /** Behaviour detectors: false turns them off; otherwise the config file's `detect` section. */
  detect?: false | unknown;
  /** The detectors' share of the memory budget, bytes (their caps come from it). */
  detectBytes?: number;
  /** Where the detectors state their share and caps at start. */
  log?: (msg: string) => void;
}

/**
 * The record watchers a command runs: every source of alerts that looks at records. Each
 * stage adds its own here (intel matcher, detectors, policy checker).
 */
export async function createWatchers(opts: WatcherOptions, emitter: AlertEmitter): Promise<RecordWatcher[]> {
  const out: RecordWatcher[] = [];
  if (opts.detect !== false) {
    const set = createDetectors(opts.detect, {
      emitter,
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      ...(opts.detectBytes !== undefined ? { stateBytes: opts.detectBytes } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    opts.log?.(describeDetectCaps(set.caps));
    out.push(set);
  }
  if (opts.intel && opts.intel.length > 0) {
    out.push(await createOfflineIntelWatcher(opts.intel, emitter, opts.emit ?? null));
  }
  // Policy: a file given on the command line wins over the data directory's active version.
  if (opts.policyFile) {
    out.push(new PolicyWatcher(emitter, validatePolicy(JSON.parse(readFileSync(opts.policyFile, 'utf8')))));
  } else if (opts.dataDir) {
    out.push(new PolicyWatcher(emitter, new PolicyRepo(opts.dataDir).active()));
  }
  return out;
}
