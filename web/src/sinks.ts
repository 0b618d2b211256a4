/** Alert sinks as the console sees them (GET /api/v1/sinks), and the add form's request. */

export const SINK_KINDS = ['kafka', 'nats', 'syslog', 'webhook', 'hec', 'email'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

export interface SinkRow {
  name: string;
  kind: SinkKind;
  filter: string;
  enabled: boolean;
  health: 'ok' | 'failing' | 'unknown';
  stats: {
    sent: number;
    failed: number;
    retried: number;
    dead: number;
    lag: number;
    lag_seconds: number | null;
    last_error: string | null;
    last_sent: string | null;
  };
}
export interface DeadLetter {
  alert_id: string;
  attempts: number;
  last_error: string | null;
  ts: string;
}

/** A starting point for each kind's settings (the keys the config file takes). */
export const SINK_EXAMPLES: Record<SinkKind, Record<string, unknown>> = {
  kafka: { brokers: ['127.0.0.1:9092'], topic: 'vantage.alerts', format: 'ocsf' },
  nats: { servers: ['127.0.0.1:4222'], subject: 'vantage.alerts' },
  syslog: { host: '127.0.0.1', port: 514, transport: 'udp', format: 'cef' },
  webhook: { url: 'https://example.net/hooks/vantage', secret: '$ENV:WEBHOOK_SECRET' },
  hec: { url: 'https://splunk.example.net:8088', token: '$ENV:HEC_TOKEN', index: 'security' },
  email: {
    host: 'smtp.example.net',
    port: 587,
    starttls: true,
    from: 'vantage@example.net',
    to: ['soc@example.net'],
  },
};

/**
 * The body of POST /api/v1/sinks: a sink as the config file writes it, `{name, kind, filter,
 * <kind>: {…}}`. The settings box may hold just the kind's object or a whole sink; either way
 * the form's name, kind and filter win.
 */
export function sinkBody(
  name: string,
  kind: SinkKind,
  filter: string,
  specText: string,
): { body: Record<string, unknown> } | { error: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name.trim()))
    return { error: 'Name: letters, digits, _ . - (at most 64), starting with a letter or digit.' };
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch (e) {
    return { error: `Settings are not JSON: ${(e as Error).message}` };
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec))
    return { error: 'Settings must be a JSON object, like {"url": "https://…"}.' };
  const o = spec as Record<string, unknown>;
  const inner = o[kind] && typeof o[kind] === 'object' ? o[kind] : o;
  const body: Record<string, unknown> = { name: name.trim(), kind, [kind]: inner };
  if (filter.trim()) body.filter = filter.trim();
  return { body };
}
