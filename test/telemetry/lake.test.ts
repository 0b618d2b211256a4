import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { createEmbeddedStore } from '../../src/store/embedded/store.js';
import type { RecordStore } from '../../src/store/types.js';
import { isMissing, PEERS } from '../support/peers.js';
import { type S3Peer, startS3Proxy } from '../support/telemetry-peers.js';

/**
 * The data lake: the demo network's records exported as Hive-partitioned Parquet while the
 * exporting process is killed with SIGKILL again and again; read back by DuckDB and pyarrow,
 * every type holds exactly the rows (and, for flows, the bytes) the store lists for the range.
 */
const HOUR = 3_600_000;
const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'lake-child.js');
const PY = join(PEERS, 'pyvenv', 'bin', 'python');

describe('data lake: Parquet partitions, exactly once across kill -9', () => {
  let dir = '';
  let data = '';
  const now = Date.now();
  // Every demo hour closed: the exporter runs as if two hours later.
  const later = now + 2 * HOUR + 15 * 60_000;
  let truth: Record<string, { rows: number; bytes: number }> = {};
  let first = 0;
  let end = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vantage-lake-'));
    data = join(dir, 'data');
    const p = await startProduct({
      dataDir: data,
      host: '127.0.0.1',
      port: 0,
      demo: true,
      log: silentLogger,
      print: () => {},
    });
    await p.samplesDone;
    await p.stop();
    end = Math.floor((later - 10 * 60_000) / HOUR) * HOUR;
    first = end - 6 * HOUR;
    const store = createEmbeddedStore({ dataDir: data }, { log: silentLogger });
    await store.start();
    truth = await storeTruth(store, first, end);
    await store.stop();
    assert.ok((truth.flow?.rows ?? 0) > 1000, JSON.stringify(truth));
    assert.ok(Object.values(truth).filter((t) => t.rows > 0).length >= 6, JSON.stringify(truth));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  async function killLoop(cfg: unknown): Promise<number> {
    let kills = 0;
    for (let attempt = 0; attempt < 60; attempt++) {
      const child = spawn(process.execPath, [CHILD, data, JSON.stringify(cfg), String(later)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // Early attempts die young; later ones get the time to finish.
      const t = setTimeout(() => child.kill('SIGKILL'), 400 + attempt * 250 + Math.random() * 300);
      const code = await exited;
      clearTimeout(t);
      if (code === 0) return kills;
      if (code === 3) throw new Error(`the lake export failed: ${err}`);
      kills++;
    }
    throw new Error('the lake export never finished');
  }

  it('a directory lake: every partition once, counts and bytes equal the store', async () => {
    const lake = join(dir, 'lake');
    const kills = await killLoop({ dir: lake, backfillHours: 6 });
    assert.ok(kills >= 1, 'the export was killed at least once');
    // No temp file left, exactly one data file and one manifest per non-empty partition.
    for (const t of readdirSync(lake)) {
      for (const d of readdirSync(join(lake, t)))
        for (const h of readdirSync(join(lake, t, d))) {
          const files = readdirSync(join(lake, t, d, h)).sort();
          assert.ok(
            files.every((f) => f === '_manifest.json' || f === 'part-0.parquet'),
            files.join(','),
          );
          const m = JSON.parse(readFileSync(join(lake, t, d, h, '_manifest.json'), 'utf8')) as {
            rows: number;
          };
          assert.equal(files.includes('part-0.parquet'), m.rows > 0);
        }
    }
    const duck = await duckdbTruth(lake);
    const arrow = pyarrowTruth(lake, null);
    for (const [type, want] of Object.entries(truth)) {
      if (want.rows === 0) continue;
      assert.deepEqual(duck[type], want, `DuckDB ${type}`);
      if (arrow) assert.deepEqual(arrow[type], want, `pyarrow ${type}`);
    }
    assert.deepEqual(
      Object.keys(duck).sort(),
      Object.keys(truth)
        .filter((t) => truth[t]!.rows > 0)
        .sort(),
    );
  });

  describe('an S3 lake (s3proxy)', () => {
    let s3: S3Peer | null = null;
    let why = '';
    before(async () => {
      const p = await startS3Proxy();
      if (isMissing(p)) why = p.missing;
      else s3 = p;
    });
    after(async () => s3?.stop());

    it('every partition once in the bucket, read back by pyarrow', async (t) => {
      if (!s3) return t.skip(`missing: ${why}`);
      // A fresh exporter state: the directory test above left its own watermarks.
      rmSync(join(data, 'lake'), { recursive: true, force: true });
      const cfg = {
        s3: {
          bucket: s3.bucket,
          prefix: 'vantage',
          endpoint: s3.endpoint,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        },
        backfillHours: 6,
      };
      await killLoop(cfg);
      const arrow = pyarrowTruth(`${s3.bucket}/vantage`, s3);
      assert.ok(arrow, 'pyarrow is needed to read the bucket back');
      for (const [type, want] of Object.entries(truth))
        if (want.rows > 0) assert.deepEqual(arrow[type], want, `S3 ${type}`);
    });
  });

  async function storeTruth(
    store: RecordStore,
    a: number,
    b: number,
  ): Promise<Record<string, { rows: number; bytes: number }>> {
    const out: Record<string, { rows: number; bytes: number }> = {};
    for (const d of store.defs) {
      const rows = await store.count(d.type, { after: a * 1000, before: b * 1000 });
      let bytes = 0;
      if (d.type === 'flow')
        await store.stream(
          { type: 'flow', after: a * 1000, before: b * 1000, fields: ['client_ip_bytes', 'server_ip_bytes'] },
          (rs) => {
            for (const r of rs) bytes += Number(r.client_ip_bytes ?? 0) + Number(r.server_ip_bytes ?? 0);
          },
        );
      out[d.type] = { rows, bytes };
    }
    return out;
  }
});

async function duckdbTruth(lake: string): Promise<Record<string, { rows: number; bytes: number }>> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const out: Record<string, { rows: number; bytes: number }> = {};
  for (const t of readdirSync(lake)) {
    const type = t.replace(/^type=/, '');
    const glob = join(lake, t, '*', '*', '*.parquet');
    const hasFiles = spawnSync('sh', ['-c', `ls ${glob} >/dev/null 2>&1`]).status === 0;
    if (!hasFiles) continue;
    const bytes = type === 'flow' ? 'sum(client_ip_bytes + server_ip_bytes)' : '0';
    const r = await c.runAndReadAll(
      `SELECT count(*), ${bytes} FROM read_parquet('${glob}', hive_partitioning = true)`,
    );
    const [n, b] = r.getRows()[0]!;
    out[type] = { rows: Number(n), bytes: Number(b ?? 0) };
  }
  c.closeSync();
  return out;
}

/** pyarrow's reading of the lake (a directory, or a bucket path on the S3 peer); null when pyarrow is absent outside CI. */
function pyarrowTruth(
  path: string,
  s3: S3Peer | null,
): Record<string, { rows: number; bytes: number }> | null {
  if (!existsSync(PY)) {
    if (process.env.CI === 'true') throw new Error('peer missing in CI: pyarrow (scripts/peers/install.sh)');
    return null;
  }
  const script = `
import json, sys
import pyarrow.dataset as ds
import pyarrow.compute as pc
from pyarrow import fs
path = sys.argv[1]
if len(sys.argv) > 2:
    filesystem = fs.S3FileSystem(access_key=sys.argv[3], secret_key=sys.argv[4], endpoint_override=sys.argv[2], scheme='http', region='us-east-1')
else:
    filesystem = fs.LocalFileSystem()
out = {}
for info in filesystem.get_file_info(fs.FileSelector(path)):
    if not info.base_name.startswith('type='):
        continue
    typ = info.base_name[len('type='):]
    # The data files listed explicitly: object stores have no directories to discover.
    files = [f.path for f in filesystem.get_file_info(fs.FileSelector(info.path, recursive=True))
             if f.type == fs.FileType.File and f.base_name.endswith('.parquet')]
    if len(files) == 0:
        continue
    sub = ds.dataset(files, filesystem=filesystem, format='parquet',
                     partitioning=ds.partitioning(flavor='hive'), partition_base_dir=info.path)
    rows = sub.count_rows()
    b = 0
    if typ == 'flow':
        tb = sub.to_table(columns=['client_ip_bytes', 'server_ip_bytes'])
        b = int(pc.sum(tb.column('client_ip_bytes')).as_py() or 0) + int(pc.sum(tb.column('server_ip_bytes')).as_py() or 0)
    out[typ] = {'rows': rows, 'bytes': b}
print(json.dumps(out))
`;
  const args = s3
    ? [path, s3.endpoint.replace(/^http:\/\//, ''), s3.accessKeyId, s3.secretAccessKey]
    : [path];
  // pyarrow's AWS SDK asks for response checksums by default, which s3proxy does not implement.
  const env = {
    ...process.env,
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
  };
  const r = spawnSync(PY, ['-c', script, ...args], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`pyarrow failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, { rows: number; bytes: number }>;
}
