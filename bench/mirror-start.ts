/**
 * The VXLAN mirror through the whole product: `vantage start` with one mirror receiver (store,
 * packet recorder, detectors: the defaults), the realistic capture's frames offered by the C
 * sender at each rate for SECONDS, then the process's own counters: received, socket drops,
 * ring_full, pipeline drops, and its CPU (all threads, and the main thread's own). Both
 * placements of the sensor, alternated. MIRROR_RECORD=0: the packet recorder off (then, with no
 * broker target, nothing on the main thread needs the mirror's packets).
 *
 *   node dist/bench/mirror-start.js [RATES] [SECONDS] [WORKERS,...]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startVantage } from '../test/load/vantage-process.js';
import { runVxlanSend } from './vxlan-send.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rates = (process.argv[2] ?? '500000').split(',').map(Number);
const seconds = Number(process.argv[3]) || 10;
const placements = (process.argv[4] ?? '0,1').split(',').map(Number);
const pcap = `${ROOT}bench/out/realistic-1360000.pcap`;
const KEY = '{source="mirror.vxlan[0]",kind="vxlan"}';
const record = process.env.MIRROR_RECORD !== '0';
/** CPU-s the process's main thread has used (its task's utime + stime). */
const mainCpu = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
};

for (const rate of rates)
  for (const workers of placements) {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-mirror-start-'));
    const port = await freePort('udp');
    const cfg = join(dir, 'vantage.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        mirror: { vxlan: [`127.0.0.1:${port}`], workers },
        ...(record ? {} : { packets: { enabled: false } }),
      }),
    );
    const v = await startVantage(join(dir, 'data'), { extra: ['--config', cfg] });
    try {
      const load = loadavg()[0]!.toFixed(1);
      const cpu0 = v.cpuSeconds();
      const main0 = mainCpu(v.pid);
      const s = await runVxlanSend({
        pcap,
        to: `127.0.0.1:${port}`,
        rate,
        seconds,
        frames: 100_000,
        ownSession: true,
      });
      let m = await v.metrics();
      const t0 = Date.now();
      // Until every datagram is received or counted by the kernel, and the ring is empty.
      while (Date.now() - t0 < 60_000) {
        const seen =
          (m.get(`vantage_source_packets${KEY}`) ?? 0) + (m.get(`vantage_source_socket_drops${KEY}`) ?? 0);
        if (seen >= s.sent) break;
        await new Promise((r) => setTimeout(r, 500));
        m = await v.metrics();
      }
      await new Promise((r) => setTimeout(r, 2000));
      m = await v.metrics();
      const cpu = v.cpuSeconds() - cpu0;
      const main = mainCpu(v.pid) - main0;
      const got = m.get(`vantage_source_packets${KEY}`) ?? 0;
      const sock = m.get(`vantage_source_socket_drops${KEY}`) ?? 0;
      const ring = m.get(`vantage_source_ring_full${KEY}`) ?? 0;
      let queue = 0;
      for (const [k, n] of m)
        if (k.startsWith('vantage_source_drops{') && k.includes('mirror.vxlan[0]')) queue += n;
      const pct = (n: number): string => `${((100 * n) / Math.max(1, s.sent)).toFixed(2)}%`;
      process.stdout.write(
        `mirror.workers ${workers}, offered ${rate / 1e3}k/s for ${seconds} s (load ${load}): sent ${s.sent} (${(s.rate / 1e3).toFixed(0)}k/s, ${(s.cpuUser + s.cpuSys).toFixed(2)} CPU-s), received ${got}, socket drops ${sock} (${pct(sock)}), ring_full ${ring} (${pct(ring)}), pipeline drops ${queue}, kept ${got - ring}; vantage ${cpu.toFixed(2)} CPU-s (main thread ${main.toFixed(2)}), recorder ${record ? 'on' : 'off'}, peak RSS ${(v.peakRss() / 2 ** 20).toFixed(0)} MiB; exact ${s.sent === got + sock}\n`,
      );
    } finally {
      await v.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
