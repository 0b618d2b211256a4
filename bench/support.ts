import { PerformanceObserver } from 'node:perf_hooks';

/** User + system CPU of a `process.cpuUsage()` difference, in seconds. */
export const cpuS = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;

let gcs = 0;
let observing = false;

/**
 * GC events in this process since it started counting (the first call starts the observer).
 * Entries reach the observer asynchronously: `await settleGc()` before reading a count.
 */
export function gcCount(): number {
  if (!observing) {
    observing = true;
    new PerformanceObserver((l) => {
      gcs += l.getEntries().length;
    }).observe({ entryTypes: ['gc'] });
  }
  return gcs;
}

export const settleGc = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

/** `--name VALUE` from the command line, or `dflt`. */
export function opt(name: string, dflt: string, args = process.argv.slice(2)): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
}
