import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../common/log.js';
import { FEED_FORMATS, parseIntelConfig } from '../intel/config.js';
import { createIntel, type FeedStatus } from '../intel/intel.js';
import { loadFeedFiles } from '../intel/offline.js';

const HELP = `usage: vantage intel <add|list|remove|load> [options]

  add NAME (--file F | --url U) --format ${FEED_FORMATS.join('|')} [--schedule 1h]
           [--type T] [--collection C] [--api-root URL]
                   add a feed to the data directory and pull it once (a running server
                   picks it up at its next start); exits 1 when that pull failed
  list             every feed added here, with the status of its last pull
  remove NAME      remove a feed and its indicators
  load FILE...     read feed files once and print what they hold (nothing is saved)

options:
  --data DIR   data directory (default ./data)
`;

export async function intelCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage intel: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (v.help || sub === undefined) {
    process.stdout.write(HELP);
    return sub === undefined && !v.help ? 2 : 0;
  }
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  const err = (s: string, code: number): number => {
    process.stderr.write(`vantage intel ${sub}: ${s}\n`);
    return code;
  };
  if (sub === 'load') {
    if (rest.length === 0) return err('give one or more feed files', 2);
    try {
      const { store, report } = await loadFeedFiles(rest);
      for (const r of report)
        out(`${r.file}: ${r.indicators} indicators, ${r.skipped} skipped, ${r.unsupported} unsupported`);
      const byType = new Map<string, number>();
      for (const i of store.values()) byType.set(i.type, (byType.get(i.type) ?? 0) + 1);
      out(`total ${store.size} distinct: ${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}`);
      return 0;
    } catch (e) {
      return err((e as Error).message, 1);
    }
  }
  const intel = createIntel(parseIntelConfig({ feeds: [] }), {
    dataDir: v.data,
    log: silentLogger,
    emitter: { raise: () => {} },
  });
  await intel.open();
  switch (sub) {
    case 'add': {
      const name = rest[0];
      if (!name) return err('give the feed a NAME', 2);
      const raw: Record<string, unknown> = { name, format: v.format, schedule: v.schedule ?? '1h' };
      if (v.file !== undefined) raw.file = v.file;
      if (v.url !== undefined) raw.url = v.url;
      if (v.type !== undefined) raw.type = v.type;
      if (v.collection !== undefined) raw.collection = v.collection;
      if (v['api-root'] !== undefined) raw.api_root = v['api-root'];
      let s: FeedStatus;
      try {
        s = await intel.addFeed(raw);
      } catch (e) {
        // config errors name the key as the config file would: say which flag that is
        return err((e as Error).message.replace(/^feed\.?/, ''), 2);
      }
      await intel.stop();
      out(line(s));
      if (s.error) return err(`added, but its first pull failed: ${s.error}`, 1);
      return 0;
    }
    case 'list': {
      const feeds = intel.feeds();
      if (feeds.length === 0) out(`no feeds in ${join(v.data, 'intel')}`);
      for (const s of feeds) out(line(s));
      return 0;
    }
    case 'remove': {
      const name = rest[0] ?? '';
      if (!intel.removeFeed(name)) return err(`no feed named '${name}'`, 1);
      out(`removed ${name}`);
      return 0;
    }
    default:
      process.stderr.write(`vantage intel: unknown subcommand '${sub}'\n\n${HELP}`);
      return 2;
  }
}

function line(s: FeedStatus): string {
  const state = s.error ? `error: ${s.error}` : s.last_success ? `ok ${s.last_success}` : 'never pulled';
  return `${s.name}  ${s.format}  ${s.source}  every ${s.schedule_s}s  ${s.indicators} indicators  ${state}`;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string', default: 'data' },
      file: { type: 'string' },
      url: { type: 'string' },
      format: { type: 'string' },
      schedule: { type: 'string' },
      type: { type: 'string' },
      collection: { type: 'string' },
      'api-root': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
