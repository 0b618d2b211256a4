import type { AlertEmitter } from '../common/alerts.js';
import type { SightingRecord } from '../schema/sighting.js';
import { type FeedFormat, formatOfFile, parseFeedConfig } from './config.js';
import { IocStore } from './ioc-store.js';
import { Matcher } from './matcher.js';
import { pullFeed } from './pull.js';
import { IntelWatcher } from './watcher.js';

/**
 * Load feed files for a one-off run (`vantage ingest --intel FILE`): formats are told by the
 * file name (.csv, .json/.stix, .dat/.intel, anything else a plain list). Throws on a bad file.
 */
export async function loadFeedFiles(files: readonly string[]): Promise<{
  store: IocStore;
  report: { file: string; indicators: number; skipped: number; unsupported: number }[];
}> {
  const store = new IocStore(null);
  const report = [];
  for (const [i, file] of files.entries()) {
    const format: FeedFormat = formatOfFile(file);
    const cfg = parseFeedConfig(
      {
        name: `file${i}-${file
          .replace(/^.*\//, '')
          .replace(/[^A-Za-z0-9_.-]/g, '_')
          .slice(0, 50)}`,
        format,
        file,
        schedule: 0,
      },
      `--intel ${file}`,
    );
    const out = await pullFeed(cfg, {}, Date.now());
    store.replaceFeed(cfg.name, out.result.iocs, false);
    report.push({
      file,
      indicators: out.result.iocs.length,
      skipped: out.result.skipped,
      unsupported: out.result.unsupported,
    });
  }
  return { store, report };
}

export async function createOfflineIntelWatcher(
  files: readonly string[],
  emitter: AlertEmitter,
  sightings: ((s: SightingRecord) => void) | null,
): Promise<IntelWatcher> {
  const { store } = await loadFeedFiles(files);
  return new IntelWatcher(Matcher.over(store), emitter, sightings);
}
