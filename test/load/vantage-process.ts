/** `vantage start` as a child process for load tests: its metrics, health, RSS, kill -9. */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/fixtures.js';
import { type MemoryKinds, memoryKinds } from './smaps.js';

export async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const p = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  }
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const p = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

export interface VantageProcess {
  pid: number;
  url: string;
  token: string;
  collectPort: number;
  /** Peak and samples of RSS (bytes) taken every `rssEveryMs`. */
  rss: { t: number; bytes: number }[];
  peakRss(): number;
  /** The resident memory by kind of mapping at the largest of the breakdowns taken every 5 s. */
  peakKinds(): { rss: number; kinds: MemoryKinds } | null;
  /** CPU time the process used so far (user + system, all threads), seconds. */
  cpuSeconds(): number;
  metrics(): Promise<Map<string, number>>;
  health(): Promise<{ status: string; reasons?: string[] }>;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  /** The last of the process's log (its start and its last 256 KiB). */
  output(): string;
  /** Bytes the process has logged in all. */
  logBytes(): number;
}

export async function startVantage(
  dataDir: string,
  o: { budget?: string; mirrorPort?: number; extra?: string[]; rssEveryMs?: number } = {},
): Promise<VantageProcess> {
  const api = await freePort('tcp');
  const collectPort = await freePort('udp');
  const args = [
    // Node flags for the process under test when investigating (e.g. LOAD_NODE_ARGS=--trace-gc).
    ...(process.env.LOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    join(ROOT, 'bin/vantage.js'),
    'start',
    '--no-samples',
    '--data',
    dataDir,
    '--listen',
    `127.0.0.1:${api}`,
    '--collect-udp',
    String(collectPort),
    '--collect-host',
    '127.0.0.1',
    ...(o.budget ? ['--memory-budget', o.budget] : []),
    ...(o.extra ?? []),
  ];
  if (o.mirrorPort) {
    const cfg = join(dataDir, '..', `vantage-${api}.json`);
    writeFileSync(
      cfg,
      JSON.stringify({
        mirror: { vxlan: [`127.0.0.1:${o.mirrorPort}`] },
        packets: { enabled: false },
        // Sections of the config file for an investigation (e.g. SOAK_CONFIG='{"detect":{"enabled":false}}').
        ...(process.env.SOAK_CONFIG ? JSON.parse(process.env.SOAK_CONFIG) : {}),
      }),
    );
    args.push('--config', cfg);
  }
  // glibc's arenas are capped by `vantage start` itself (capMallocArenas), as deployed.
  // A command the process under test runs inside when investigating (e.g. LOAD_WRAPPER='heaptrack
  // -o /tmp/soak'); its RSS and pid are then the wrapper's, so only what it records is read.
  const wrapper = process.env.LOAD_WRAPPER?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = wrapper.length
    ? spawn(wrapper[0]!, [...wrapper.slice(1), process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The log's start (until it says it runs) and its last 256 KiB: a long soak must not grow
  // the harness's memory with it.
  let out = '';
  let logBytes = 0;
  const keep = (d: Buffer): void => {
    logBytes += d.length;
    out += d.toString();
    if (out.length > 512 * 1024 && out.includes('Vantage is running')) out = out.slice(-256 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const t0 = Date.now();
  while (!out.includes('Vantage is running')) {
    if (child.exitCode !== null || Date.now() - t0 > 60_000)
      throw new Error(`vantage did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const url = `http://127.0.0.1:${api}`;
  const rss: { t: number; bytes: number }[] = [];
  const pid = child.pid!;
  const sample = (): void => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) rss.push({ t: Date.now(), bytes: Number(m[1]) * 1024 });
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, o.rssEveryMs ?? 250);
  timer.unref();
  let kindsAtPeak: { rss: number; kinds: MemoryKinds } | null = null;
  const breakdown = setInterval(() => {
    const k = memoryKinds(pid);
    if (!k) return;
    const total = k.file + k.heap + k.small + k.arena64 + k.mid + k.big;
    if (!kindsAtPeak || total > kindsAtPeak.rss) kindsAtPeak = { rss: total, kinds: k };
  }, 5000);
  breakdown.unref();
  const hwm = (): number => {
    try {
      return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return Math.max(0, ...rss.map((r) => r.bytes));
    }
  };
  let peak = 0;
  let cpu = 0;
  const cpuSeconds = (): number => {
    try {
      // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100/s here).
      const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
      cpu = (Number(f[11]) + Number(f[12])) / 100;
    } catch {}
    return cpu;
  };
  return {
    pid,
    url,
    token,
    collectPort,
    rss,
    peakRss: () => {
      peak = Math.max(peak, hwm());
      return peak;
    },
    peakKinds: () => kindsAtPeak,
    cpuSeconds,
    async metrics() {
      const r = await retry(() => fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } }));
      return parseMetrics(await r.text());
    },
    async health() {
      return (await (await retry(() => fetch(`${url}/api/v1/health`))).json()) as {
        status: string;
        reasons?: string[];
      };
    },
    async stop() {
      peak = Math.max(peak, hwm());
      cpuSeconds();
      clearInterval(timer);
      clearInterval(breakdown);
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      peak = Math.max(peak, hwm());
      cpuSeconds();
      clearInterval(timer);
      clearInterval(breakdown);
      child.kill('SIGKILL');
      await exited;
    },
    output: () => out,
    logBytes: () => logBytes,
  };
}

/**
 * A request the test makes between phases: retried when the connection is reset (a keep-alive
 * connection the server closed just as the client reused it, on a starved machine), never
 * when the server answers.
 */
async function retry(f: () => Promise<Response>): Promise<Response> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= 4) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** `name{a="b"}` → value, and `name` → the sum over its label sets. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    const v = Number(line.slice(sp + 1));
    m.set(key, v);
    const name = key.replace(/\{.*$/, '');
    if (name !== key) m.set(name, (m.get(name) ?? 0) + v);
  }
  return m;
}

/** Collector account from /metrics, in records (datagrams × 30 where the count is datagrams). */
export function collectorAccount(m: Map<string, number>, perDatagram = 30) {
  const g = (k: string): number => m.get(k) ?? 0;
  const loss = (reason: string): number => g(`vantage_loss_total{source="collector",reason="${reason}"}`);
  return {
    stored: g('vantage_collect_stored_records'),
    socket: g('vantage_collect_socket_drops') * perDatagram,
    queueFull: g('vantage_collect_queue_drops') * perDatagram,
    storeBehind: loss('store_behind'),
    sampled: loss('sampled'),
    storeError: loss('store_error'),
    waiting: g('vantage_collect_store_queue_records') + g('vantage_collect_queue_depth') * perDatagram,
    decodedDatagrams: g('vantage_collect_datagrams'),
  };
}
