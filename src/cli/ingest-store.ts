import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { createEmbeddedStore } from '../store/embedded/store.js';
import { ingestCaptures } from '../store/ingest.js';

const HELP = `usage: vantage ingest FILE... --store DIR

Decode captures and store their records in the data directory DIR (no server needed; stop
a running \`vantage start\` on DIR first, or upload with POST /api/v1/captures instead).
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
  try {
    const s = await ingestCaptures(store, positionals);
    process.stdout.write(`${JSON.stringify(s)}\n`);
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
