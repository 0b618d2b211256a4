import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { SensorRecord } from '../../src/flow/sensor.js';
import {
  cliArgs,
  fileRecords,
  flowSummary,
  LIVE_FIXTURES,
  lastJsonLine,
  missingAddon,
  missingForNetns,
  Netns,
  PCAPS,
  type Running,
  readFrames,
  requireOrSkip,
  sleep,
  startAndWait,
  stdoutRecords,
} from './support.js';

const missing = [...missingForNetns(['tcpreplay']), ...missingAddon()];

/**
 * Replay a fixture on `va` inside the namespace; returns tcpreplay's count of sent packets.
 * Paced: at top speed a veth hands bursts to the receive backlog (net.core.netdev_max_backlog,
 * 1000 packets), which drops the excess before any packet socket sees it.
 */
function replay(ns: Netns, iface: string, path: string): number {
  const out = ns.exec('tcpreplay', ['-q', '-i', iface, '--pps', '20000', path]);
  const m = /Successful packets:\s+(\d+)/.exec(out) ?? /Actual:\s+(\d+) packets/.exec(out);
  return m ? Number(m[1]) : -1;
}

async function captureWhileReplaying(
  ns: Netns,
  files: string[],
  extra: string[],
): Promise<{ summary: Record<string, unknown>; records: SensorRecord[]; sent: number; run: Running }> {
  const child = ns.spawn(
    process.execPath,
    cliArgs('capture', ['-i', 'vb', '--summary', '--duration', '60', ...extra]),
  );
  const run = await startAndWait(child, /capturing on vb/);
  let sent = 0;
  for (const f of files) sent += replay(ns, 'va', f);
  await sleep(700);
  child.kill('SIGINT');
  const code = await run.exited;
  assert.equal(code, 0, run.stderr());
  const records = stdoutRecords(run);
  return { summary: lastJsonLine(run.stderr()), records, sent, run };
}

/**
 * tcpreplay sends fixture captures on one end of a veth pair inside a namespace made for the
 * test; `vantage capture` on the other end sees exactly those packets (count and bytes) and
 * meters the same flows as the Sensor on the files.
 */
describe('live capture in a network namespace (tcpreplay on a veth)', () => {
  let ns: Netns | null = null;
  before(() => {
    if (missing.length > 0) return;
    ns = new Netns('cap');
    ns.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
    for (const i of ['va', 'vb']) {
      ns.exec('ip', ['link', 'set', i, 'mtu', '9000']);
      ns.exec('ip', ['link', 'set', i, 'up']);
    }
  });
  after(() => ns?.cleanup());

  for (const workers of ['0', '2']) {
    test(`every replayed packet is captured, flows match the files (workers ${workers})`, async (t) => {
      if (!requireOrSkip(t, missing)) return;
      const files = LIVE_FIXTURES.map((f) => PCAPS + f);
      let packets = 0;
      let bytes = 0;
      for (const f of files) {
        for (const fr of await readFrames(f)) {
          packets++;
          bytes += fr.bytes.length;
        }
      }
      const big = ['--idle-timeout', '1000000', '--active-timeout', '10000000'];
      const { summary, records, sent } = await captureWhileReplaying(ns!, files, [
        '--workers',
        workers,
        ...big,
      ]);
      assert.equal(sent, packets, 'tcpreplay sent every packet');
      assert.equal(summary.captured_packets, packets, JSON.stringify(summary));
      assert.equal(summary.captured_bytes, bytes);
      assert.equal(summary.packets, packets);
      assert.equal(summary.kernel_dropped, 0);
      assert.deepEqual(
        summary.pipeline_drops,
        workers === '0' ? {} : { worker_queue_full: 0, frame_too_large: 0, worker_failed: 0 },
      );
      // Flows: compare per file is not possible (one capture), so compare the union.
      const want: SensorRecord[] = [];
      for (const f of files) want.push(...(await fileRecords(f)));
      // With workers, an application name learned from a DNS answer is only known on the
      // worker that saw the answer: flows of other address pairs miss it (see threaded.ts).
      const withApp = workers === '0';
      const got = flowSummary(records, withApp);
      const exp = flowSummary(want, withApp);
      assert.deepEqual(got, exp);
    });
  }

  test('a kernel BPF filter passes only what it selects', async (t) => {
    if (!requireOrSkip(t, missing)) return;
    const file = `${PCAPS}http-methods-many.pcap`;
    const want = spawnSync('tcpdump', ['-r', file, 'tcp port 80 and tcp[tcpflags] & tcp-syn != 0'], {
      encoding: 'utf8',
    })
      .stdout.trim()
      .split('\n').length;
    const { summary } = await captureWhileReplaying(
      ns!,
      [file],
      ['--no-records', '--filter', 'tcp port 80 and tcp[tcpflags] & tcp-syn != 0'],
    );
    assert.equal(summary.captured_packets, want);
  });

  test('without root (CAP_NET_RAW) the message says what is needed', async (t) => {
    const miss = [...missingAddon()];
    if (process.getuid?.() !== 0) miss.push('root (to drop privileges)');
    if (spawnSync('sh', ['-c', 'command -v setpriv'], { stdio: 'ignore' }).status !== 0) miss.push('setpriv');
    if (!requireOrSkip(t, miss)) return;
    const r = spawnSync(
      'setpriv',
      [
        // stay root (so the build stays readable) but without the capture capabilities
        '--bounding-set=-net_raw,-net_admin',
        '--inh-caps=-net_raw,-net_admin',
        process.execPath,
        ...cliArgs('capture', ['-i', 'lo', '--duration', '1']),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /needs root or the CAP_NET_RAW capability/);
  });
});

test('without the addon, vantage capture says exactly what to install', () => {
  const r = spawnSync(process.execPath, cliArgs('capture', ['-i', 'lo', '--duration', '1']), {
    encoding: 'utf8',
    env: { ...process.env, VANTAGE_NO_PCAP: '1' },
  });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /install the Debian package libpcap-dev and a C compiler/);
  assert.match(r.stderr, /npm rebuild vantage-pcap/);
});
