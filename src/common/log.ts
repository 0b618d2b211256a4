/** Minimal structured logger: one JSON object per line on stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * A log line's bound: a string field past this many characters is cut (an error's text can
 * carry a whole generated query; a 600-s soak logged over 512 MB of them).
 */
export const LOG_FIELD_MAX = 8192;
/**
 * Warnings and errors of one message: at most `LOG_BURST` lines per `LOG_WINDOW_MS`, then one
 * line saying how many were left out, so a fault repeated per request or per batch cannot fill
 * the disk; the first lines of each window carry the detail.
 */
export const LOG_BURST = 20;
export const LOG_WINDOW_MS = 10_000;
/** Messages whose windows are tracked; past it the table starts again. */
const LOG_KEYS_MAX = 1024;

function bounded(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return fields;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v !== 'string' || v.length <= LOG_FIELD_MAX) continue;
    out ??= { ...fields };
    out[k] = `${v.slice(0, LOG_FIELD_MAX)}… (${v.length - LOG_FIELD_MAX} more characters)`;
  }
  return out ?? fields;
}

export function createLogger(
  component: string,
  level: Level = (process.env.VANTAGE_LOG as Level) || 'info',
  now: () => number = Date.now,
): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const windows = new Map<string, { start: number; n: number }>();
  const write = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    process.stderr.write(
      `${JSON.stringify({ ts: new Date().toISOString(), level: lvl, component, msg, ...bounded(fields) })}\n`,
    );
  };
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    if (ORDER[lvl] >= ORDER.warn) {
      const t = now();
      let w = windows.get(msg);
      if (w && t - w.start >= LOG_WINDOW_MS) {
        if (w.n > LOG_BURST)
          write(lvl, msg, { suppressed: w.n - LOG_BURST, over_seconds: (t - w.start) / 1000 });
        w = undefined;
      }
      if (!w) {
        if (windows.size >= LOG_KEYS_MAX) windows.clear();
        w = { start: t, n: 0 };
        windows.set(msg, w);
      }
      if (++w.n > LOG_BURST) return;
    }
    write(lvl, msg, fields);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
