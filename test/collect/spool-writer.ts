/**
 * A process that spools numbered datagrams as fast as it can and prints how many it has
 * written to disk, until it is killed (the spool test kills it with SIGKILL mid-write).
 */
import { Spool } from '../../src/collect/spool.js';

const dir = process.argv[2];
if (dir) {
  const sp = Spool.open({ dir, segmentBytes: 256 * 1024, maxBytes: 1 << 30 });
  const b = Buffer.alloc(1200, 0xab);
  let i = 0;
  const step = (): void => {
    for (let k = 0; k < 1000; k++, i++) {
      b.writeUInt32BE(i, 0);
      sp.append(b, 0, 400 + (i % 800), '198.51.100.7', 9995, Date.now());
    }
    sp.flush();
    process.stdout.write(`${i}\n`);
    setImmediate(step);
  };
  step();
}
