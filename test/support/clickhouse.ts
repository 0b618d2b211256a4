import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Missing, PEERS } from './peers.js';

/**
 * ClickHouse peers on loopback: a cluster of clickhouse-server 18.16 processes (Debian), one
 * per shard, each with a config of its own naming the others as the cluster `vt`; and chdb
 * (current ClickHouse, in-process in Python) behind a small HTTP shim speaking the same
 * protocol. Missing peers skip, except in CI where they fail.
 */
function missing(what: string): Missing {
  if (process.env.CI === 'true') throw new Error(`peer missing in CI: ${what}`);
  return { missing: what };
}

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

export interface ChCluster {
  /** HTTP URL of each shard's server. */
  urls: string[];
  /** Native TCP port of each shard's server (clickhouse-client --port). */
  tcpPorts: number[];
  cluster: string;
  /** Process id of each shard's server (benchmarks read its CPU time). */
  pids: number[];
  /** kill -9 one server and leave it down. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitHttp(url: string, ms: number, proc: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${url}: server exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`${url}/?query=SELECT%201`);
      if (r.ok) return;
    } catch {}
    if (Date.now() > end) throw new Error(`${url} did not answer in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopProc(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await done;
}

export async function startClickHouseCluster(shards = 2): Promise<ChCluster | Missing> {
  if (!have('clickhouse-server'))
    return missing('clickhouse-server (Debian: apt-get install clickhouse-server)');
  const dir = mkdtempSync(join(tmpdir(), 'vantage-ch-'));
  const nodes: { http: number; tcp: number; inter: number }[] = [];
  for (let i = 0; i < shards; i++)
    nodes.push({ http: await freePort(), tcp: await freePort(), inter: await freePort() });
  const remote = nodes
    .map((n) => `<shard><replica><host>127.0.0.1</host><port>${n.tcp}</port></replica></shard>`)
    .join('');
  const procs: ChildProcess[] = [];
  for (const [i, n] of nodes.entries()) {
    const d = join(dir, `s${i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(
      join(d, 'config.xml'),
      `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${d}/log.txt</log><errorlog>${d}/err.txt</errorlog></logger>
  <http_port>${n.http}</http_port><tcp_port>${n.tcp}</tcp_port><interserver_http_port>${n.inter}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${d}/data/</path><tmp_path>${d}/tmp/</tmp_path><user_files_path>${d}/uf/</user_files_path>
  <format_schema_path>${d}/fs/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>53687091</mark_cache_size>
  <remote_servers><vt>${remote}</vt></remote_servers>
</yandex>
`,
    );
    procs.push(spawn('clickhouse-server', [`--config-file=${join(d, 'config.xml')}`], { stdio: 'ignore' }));
  }
  const urls = nodes.map((n) => `http://127.0.0.1:${n.http}`);
  try {
    await Promise.all(urls.map((u, i) => waitHttp(u, 30_000, procs[i]!)));
  } catch (e) {
    await Promise.all(procs.map((p) => stopProc(p, 'SIGKILL')));
    throw e;
  }
  return {
    urls,
    tcpPorts: nodes.map((n) => n.tcp),
    cluster: 'vt',
    pids: procs.map((p) => p.pid ?? 0),
    kill: (i) => stopProc(procs[i]!, 'SIGKILL'),
    async stop() {
      await Promise.all(procs.map((p) => stopProc(p)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ChdbPeer {
  url: string;
  stop(): Promise<void>;
}

const SHIM = fileURLToPath(new URL('../../../scripts/peers/chdb-http.py', import.meta.url));

export async function startChdb(): Promise<ChdbPeer | Missing> {
  const py = join(PEERS, 'pyvenv', 'bin', 'python');
  if (!existsSync(py) || spawnSync(py, ['-c', 'import chdb']).status !== 0)
    return missing(`chdb in ${join(PEERS, 'pyvenv')} (pip install chdb)`);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-chdb-'));
  const port = await freePort();
  const proc = spawn(py, [SHIM, String(port), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(url, 60_000, proc);
  } catch (e) {
    await stopProc(proc, 'SIGKILL');
    throw e;
  }
  return {
    url,
    async stop() {
      await stopProc(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
