import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { createPacketRecorder } from '../pcapstore/recorder.js';
import { createEmbeddedStore } from '../store/embedded/store.js';
import { ingestCaptures } from '../store/ingest.js';

const HELP = `usage: vantage ingest FILE... --store DIR [--no-packets]

Decode captures and store their records in the data directory DIR, and their packets in its
packet store (DIR/pcap) unless --no-packets (no server needed; stop a running
\`vantage start\` on DIR first, or upload with POST /api/v1/captures instead).
Prints a JSON summary.
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
  const store = createEmbeddedStore({ dataDir: values.store }, { log: createLogger('ingest') });
  try {
    await store.start();
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    process.stderr.write(`vantage ingest: cannot open the store in ${values.store}: ${msg}\n`);
    return 1;
  }
  const recorder = values['no-packets'] ? null : createPacketRecorder({ dir: join(values.store, 'pcap') });
  try {
    await recorder?.start();
    const s = await ingestCaptures(store, positionals, { hooks: recorder ? [recorder] : [] });
    await recorder?.stop();
    const packets = recorder ? { packets_recorded: recorder.counters.packets } : {};
    process.stdout.write(`${JSON.stringify({ ...s, ...packets })}\n`);
    return s.errors.length > 0 ? 1 : 0;
  } finally {
    await store.stop();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      'no-packets': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
