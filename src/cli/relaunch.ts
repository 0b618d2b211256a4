import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/**
 * V8 sizes a thread's young generation when the thread starts, and the main thread's only from
 * flags given at process start: `--max-semi-space-size` on the command line or in NODE_OPTIONS
 * (a worker's `resourceLimits` cannot reach it, and the flag, once set, wins over every
 * worker's). By default each semi-space grows to 16 MiB, and under the collector's load the main
 * thread's young generation sat at 34 MB of mostly garbage at every peak (bench/README.md, issue
 * 21). `vantage start` therefore starts itself again with the flag, in place: the addon's
 * `execve` keeps the pid, so a supervisor or `kill -9` still holds the process it started
 * (a child process would be orphaned by a kill of its launcher). Then it clears the flag for
 * the threads it starts later, so the collector's decode thread keeps V8's default (a small young
 * generation cost it 30–60% more CPU, measured).
 */

/**
 * The main thread's semi-space under `vantage start`, MiB (its young generation is about 2×).
 * At 400k records/s the peak RSS was 8–28 MB lower at 4 than at 8 in three alternated pairs, the
 * main thread's CPU within the load's noise (bench/README.md, branch s18-mem22).
 */
export const START_SEMI_SPACE_MB = 4;

/** Set in the environment of the process started again, read and removed at once by it. */
export const RELAUNCHED_ENV = 'VANTAGE_RELAUNCHED';

const SEMI_FLAG = /^--max[-_]semi[-_]space[-_]size(=|$)/;

/**
 * The argv (argv[0] = the node binary) to start this process again with the main thread's
 * semi-space set, or null when it needs no new start: the flag is already given (by us, or by
 * whoever started node, on its command line or in NODE_OPTIONS, which then wins).
 */
export function relaunchArgv(
  execPath: string,
  execArgv: readonly string[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): string[] | null {
  if (env[RELAUNCHED_ENV]) return null;
  const nodeOptions = (env.NODE_OPTIONS ?? '').split(/\s+/);
  if ([...execArgv, ...nodeOptions].some((a) => SEMI_FLAG.test(a))) return null;
  return [execPath, ...execArgv, `--max-semi-space-size=${START_SEMI_SPACE_MB}`, ...argv.slice(1)];
}

type Execve = (path: string, argv: string[], env: string[]) => never;

/**
 * Start this process again with the main thread's semi-space set (see above); returns only when
 * that is not needed or not possible (no vantage-pcap addon: the process runs on with V8's
 * default, and the start banner says so). In the process started again, clears the flag for the threads
 * started from now on, and returns how the main thread's young generation was set.
 */
export function relaunchWithHeapFlags(
  load: () => { execve?: Execve } = () =>
    createRequire(import.meta.url)('vantage-pcap') as { execve?: Execve },
): string {
  if (process.env[RELAUNCHED_ENV]) {
    delete process.env[RELAUNCHED_ENV];
    // 0 is V8's "not set": worker isolates made from now on size their young generation from
    // their `resourceLimits` or V8's default, not from the main thread's flag.
    setFlagsFromString('--max-semi-space-size=0');
    return `main thread semi-space ${START_SEMI_SPACE_MB} MiB (started again with --max-semi-space-size)`;
  }
  const argv = relaunchArgv(process.execPath, process.execArgv, process.argv, process.env);
  if (!argv) return 'main thread semi-space as given to node';
  let execve: Execve | undefined;
  try {
    execve = load().execve;
  } catch {}
  if (!execve) return "main thread semi-space V8's default (the vantage-pcap addon is not built)";
  const env = Object.entries({ ...process.env, [RELAUNCHED_ENV]: '1' }).map(([k, v]) => `${k}=${v}`);
  try {
    return execve(process.execPath, argv, env);
  } catch (e) {
    return `main thread semi-space V8's default (${(e as Error).message})`;
  }
}
