/**
 * Flow metering alone, in one process (issue 13): read the capture, decode every packet, meter
 * its flow, build the flow rows as column batches (what `vantage ingest F --no-records --no-l7
 * --no-detect` does after start-up), passes alternated with another build's (`--base DIST`, an
 * older commit's `dist/`), least CPU of `--rounds`. CPU time of the whole process
 * (process.cpuUsage: every thread, user + system), not wall time: the machine is shared. Each
 * pass also reports the flow rows it made, so two builds are seen to do the same work.
 *
 * usage: node --expose-gc dist/bench/meter-alone.js [capture] [--rounds N] [--base DIR/dist]
 */
import { fileURLToPath } from 'node:url';
import { cpuS, opt } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const FILE = args[0] && !args[0].startsWith('--') ? args[0] : `${ROOT}bench/out/realistic-1360000.pcap`;
const ROUNDS = Number(opt('rounds', '5'));
const BASE = opt('base', '');

interface Build {
  name: string;
  pass(): Promise<{ cpu: number; rows: number; packets: number }>;
}

async function load(name: string, dist: string): Promise<Build> {
  const core = await import(`${dist}/src/flow/sensor.js`);
  const { readCaptureFile } = await import(`${dist}/src/capture/capture-file.js`);
  const make = (core.createMeteringSensor ?? core.createSensor) as (
    sink: (r: unknown) => void,
    o: { l7?: boolean; columns: (t: string, c: { rows: { length: number } }) => void },
  ) => { onFrame: (f: unknown) => void; finish(): { frames: number } };
  return {
    name,
    async pass() {
      let rows = 0;
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const c0 = process.cpuUsage();
      const s = make(() => {}, {
        l7: false,
        columns: (_t, c) => {
          rows += c.rows.length;
        },
      });
      await readCaptureFile(FILE, s.onFrame);
      const n = s.finish();
      return { cpu: cpuS(process.cpuUsage(c0)), rows, packets: n.frames };
    },
  };
}

const builds = [await load('this build', `${ROOT}dist`)];
if (BASE) builds.push(await load(`base ${BASE}`, BASE));
const best = builds.map(() => Number.POSITIVE_INFINITY);
const all: number[][] = builds.map(() => []);
let packets = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < builds.length; i++) {
    const x = await builds[i]!.pass();
    packets = x.packets;
    best[i] = Math.min(best[i]!, x.cpu);
    all[i]!.push(x.cpu);
    process.stdout.write(`${builds[i]!.name}: ${x.cpu.toFixed(3)} CPU-s, ${x.rows} flow rows\n`);
  }
}
for (let i = 0; i < builds.length; i++) {
  const sorted = [...all[i]!].sort((a, b) => a - b);
  process.stdout.write(
    `${builds[i]!.name}: least ${best[i]!.toFixed(3)} CPU-s, median ${sorted[sorted.length >> 1]!.toFixed(3)}, ${(packets / best[i]! / 1e6).toFixed(2)}M packets per CPU-s\n`,
  );
}
