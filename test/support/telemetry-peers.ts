import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Missing, PEERS, waitPort } from './peers.js';

/** Real time-series databases on loopback for the telemetry exporters: Prometheus and InfluxDB 1.x. */

function missing(what: string): Missing {
  if (process.env.CI === 'true') throw new Error(`peer missing in CI: ${what}`);
  return { missing: what };
}

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

async function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await done;
}

export interface PrometheusPeer {
  url: string;
  /** Every raw sample of each series matching `selector` in the last `range` before `atMs`. */
  samples(
    selector: string,
    range: string,
    atMs: number,
  ): Promise<{ labels: Record<string, string>; values: [number, number][] }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(
  opts: { scrape?: { port: number; path: string; bearer: string; interval: string } } = {},
): Promise<PrometheusPeer | Missing> {
  if (!have('prometheus')) return missing('prometheus (Debian package prometheus)');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-prom-'));
  const port = await freePort();
  const scrape = opts.scrape
    ? `scrape_configs:
  - job_name: vantage
    scrape_interval: ${opts.scrape.interval}
    metrics_path: ${opts.scrape.path}
    authorization: { credentials: "${opts.scrape.bearer}" }
    static_configs: [{ targets: ["127.0.0.1:${opts.scrape.port}"] }]
`
    : '';
  writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 15s }\n${scrape}`);
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      // Samples of the last hours are written with their own (past) times.
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: 'ignore' },
  );
  await waitPort(port, 30_000, proc);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/-/ready`).catch(() => null);
    if (r?.ok) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url,
    async samples(selector, range, atMs) {
      const u = new URL(`${url}/api/v1/query`);
      u.searchParams.set('query', `${selector}[${range}]`);
      u.searchParams.set('time', String(atMs / 1000));
      const j = (await (await fetch(u)).json()) as {
        status: string;
        data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
      };
      if (j.status !== 'success') throw new Error(`prometheus query failed: ${JSON.stringify(j)}`);
      return j.data.result.map((r) => ({
        labels: r.metric,
        values: r.values.map(([t, v]): [number, number] => [Math.round(t * 1000), Number(v)]),
      }));
    },
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface InfluxPeer {
  url: string;
  /** Run an InfluxQL query; rows with epoch-ms times. */
  query(
    db: string,
    q: string,
  ): Promise<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]>;
  stop(): Promise<void>;
}

export async function startInflux(): Promise<InfluxPeer | Missing> {
  if (!have('influxd')) return missing('influxd (Debian package influxdb)');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-influx-'));
  const port = await freePort();
  const rpc = await freePort();
  writeFileSync(
    join(dir, 'influxdb.conf'),
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
`,
  );
  const proc = spawn('influxd', ['-config', join(dir, 'influxdb.conf')], { stdio: 'ignore' });
  await waitPort(port, 30_000, proc);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/ping`).catch(() => null);
    if (r && r.status === 204) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url,
    async query(db, q) {
      const u = new URL(`${url}/query`);
      u.searchParams.set('db', db);
      u.searchParams.set('q', q);
      u.searchParams.set('epoch', 'ms');
      const j = (await (await fetch(u)).json()) as {
        results: {
          series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[];
          error?: string;
        }[];
      };
      const r = j.results[0];
      if (r?.error) throw new Error(`influx query failed: ${r.error}`);
      return r?.series ?? [];
    },
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface S3Peer {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** s3proxy (Maven Central, Apache-2.0) on loopback over a temp directory, with one bucket. */
export async function startS3Proxy(): Promise<S3Peer | Missing> {
  const libs = join(PEERS, 's3proxy', 'libs');
  if (!existsSync(join(libs, 's3proxy-2.6.0.jar')) || !have('java'))
    return missing(`s3proxy (scripts/peers/install.sh puts it in ${libs}) and java`);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-s3-'));
  const port = await freePort();
  const bucket = 'vantage-lake';
  mkdirSync(join(dir, 'data', bucket), { recursive: true });
  writeFileSync(
    join(dir, 's3proxy.conf'),
    `s3proxy.endpoint=http://127.0.0.1:${port}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=vantage-test
s3proxy.credential=vantage-secret
jclouds.provider=filesystem
jclouds.filesystem.basedir=${join(dir, 'data')}
`,
  );
  const proc = spawn(
    'java',
    ['-cp', `${libs}/*`, 'org.gaul.s3proxy.Main', '--properties', join(dir, 's3proxy.conf')],
    {
      stdio: 'ignore',
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  await waitPort(port, 60_000, proc);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'vantage-test',
    secretAccessKey: 'vantage-secret',
    async stop() {
      await kill(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
