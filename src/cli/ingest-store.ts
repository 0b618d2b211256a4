import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mark, phases, spans } from '../capture/workers/pipe-prof.js';
import type { RecordWatcher } from '../common/alerts.js';
import { AlertAggregator } from '../common/alerts.js';
import { fixMallocMmapThreshold, ingestDuckdbLimit, memoryBudget } from '../common/budget.js';
import { createLogger } from '../common/log.js';
import type { ThreadHeap } from '../common/thread-heap.js';
import type { AlertRecord } from '../schema/alert.js';
import { createEmbeddedStore } from '../store/embedded/store.js';
import type { IngestSummary } from '../store/ingest.js';
import { DEFAULT_INGEST_WORKERS } from '../store/ingest-defaults.js';
import { type MemoryTrace, startMemoryTrace } from './memory-trace.js';

const HELP = `usage: vantage ingest FILE... --store DIR [--no-packets] [--workers N]

Decode captures and store their records in the data directory DIR, and their packets in its
packet store (DIR/pcap) unless --no-packets (no server needed; stop a running
\`vantage start\` on DIR first, or upload with POST /api/v1/captures instead).
Prints a JSON summary.

  --workers N   threads that decode, meter flows and parse L7 while the main thread reads,
                records packets and stores (default 0: everything on one thread, which already
                keeps DuckDB and packet writes on I/O threads; 1 pays where cores sit idle; more
                than 1 shards flows by hash and needs --no-packets)
`;

export async function ingestStoreCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage ingest: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.store || positionals.length === 0) {
    process.stderr.write(
      `vantage ingest: ${values.store ? 'no capture file given' : '--store DIR is required'}\n\n${HELP}`,
    );
    return 2;
  }
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
      process.stderr.write(`vantage ingest: --workers must be an integer 0-64 (got '${values.workers}')\n`);
      return 2;
    }
    if (workers > 1 && !values['no-packets']) {
      process.stderr.write(
        'vantage ingest: --workers above 1 needs --no-packets (packets are recorded by one worker)\n',
      );
      return 2;
    }
  }
  // Before the large buffers: glibc gives each back when it is freed (budget.ts).
  fixMallocMmapThreshold();
  // DuckDB takes a part of the same memory budget as `vantage start` (left alone it sizes
  // itself from the machine's RAM and the ingest peaks far above the job's needs). On this
  // thread's path each record type's rows of a whole file reach the store at its end, and a
  // third of the store's share holds the peak down (ingestDuckdbLimit); the worker path commits
  // 8,192 rows at a time during the file, where the smaller limit cost 10% more CPU for no
  // lower peak (bench/README.md, 2026-12-07), so it keeps the store's share.
  const budget = memoryBudget();
  const inline = (workers ?? DEFAULT_INGEST_WORKERS) === 0;
  const store = createEmbeddedStore(
    {
      dataDir: values.store,
      memoryLimit: inline ? ingestDuckdbLimit(budget) : budget.duckdb,
      threads: budget.duckdbThreads,
    },
    { log: createLogger('ingest') },
  );
  // DuckDB's open is ~0.2-0.4 s of waiting on its thread for 20-40 ms of this one's CPU: the
  // ingest's modules load (and its pipeline worker starts) meanwhile; nothing is read before it.
  mark('start');
  let openError: unknown = null;
  const opening = store.start().then(
    () => mark('store open'),
    (e: unknown) => {
      openError = e;
      throw e;
    },
  );
  // Handled below, after the imports: not an unhandled rejection meanwhile.
  opening.catch(() => undefined);
  // The record watchers (intel, detectors) see every record; their alerts are stored at the end.
  const found: AlertRecord[] = [];
  const alerts = new AlertAggregator((a) => found.push(a), { mode: 'final', sensor: 'ingest' });
  let watchers: RecordWatcher[] = [];
  const [{ ingestCaptures }, { createWatchers }, { watchingStore }] = await Promise.all([
    import('../store/ingest.js'),
    import('./watchers.js'),
    import('../store/watching-store.js'),
  ]);
  // Made once the data directory is there (its baselines and policy), before any append.
  const ready = opening.then(async () => {
    watchers = profiledWatchers(await createWatchers({ dataDir: values.store! }, alerts));
    mark('watchers made');
  });
  const recorder = values['no-packets'] ? undefined : { dir: join(values.store, 'pcap') };
  // VANTAGE_MEMORY_TRACE=FILE: what the process's memory is made of over the ingest, as under
  // `vantage start` (memory-trace.ts), sampled between the reader's blocks as well.
  const tracePath = process.env.VANTAGE_MEMORY_TRACE;
  let workerHeap: (() => ThreadHeap | null) | null = null;
  const trace: MemoryTrace | null = tracePath
    ? startMemoryTrace(tracePath, { store, workerHeap: () => workerHeap?.() ?? null })
    : null;
  let s: IngestSummary;
  try {
    // The recorder (on the pipeline worker, or here with --workers 0) copies whole runs of
    // records as they lie in its input; the segment is closed before the ingest resolves.
    s = await ingestCaptures(
      watchingStore(store, () => watchers),
      positionals,
      {
        ...(recorder ? { recorder } : {}),
        ...(workers !== undefined ? { workers } : {}),
        after: ready,
        ...(trace
          ? {
              tick: trace.due,
              workerHeap: (get: () => ThreadHeap | null) => {
                workerHeap = get;
              },
            }
          : {}),
      },
    );
  } catch (e) {
    trace?.stop();
    // Stopped only once its opening has settled.
    if (openError === null) {
      await ready.catch(() => undefined);
      await store.stop();
      throw e;
    }
    const msg = (openError as Error).message.split('\n')[0];
    process.stderr.write(`vantage ingest: cannot open the store in ${values.store}: ${msg}\n`);
    return 1;
  }
  try {
    for (const w of watchers) w.finish();
    alerts.flush();
    mark('ingested');
    if (found.length > 0) await store.append('alert', found);
    process.stdout.write(`${JSON.stringify({ ...s, alerts: found.length })}\n`);
    return s.errors.length > 0 ? 1 : 0;
  } finally {
    trace?.dropStore();
    await store.stop();
    trace?.stop();
    mark('store closed');
    if (spans) process.stderr.write(`PIPEPHASES ${JSON.stringify(phases)}\n`);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      'no-packets': { type: 'boolean', default: false },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** With VANTAGE_PIPE_PROF=1 the detectors' time is a span of its own (inside the store's). */
function profiledWatchers<W extends RecordWatcher>(ws: W[]): W[] {
  const sp = spans;
  if (!sp) return ws;
  for (const w of ws) {
    const cols = w.onColumns?.bind(w);
    if (cols)
      w.onColumns = (type, c) => {
        sp.begin('detectors');
        try {
          cols(type, c);
        } finally {
          sp.end('detectors');
        }
      };
  }
  return ws;
}
