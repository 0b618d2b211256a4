/**
 * Child process for the crash test: records a capture into a store over and over until it is
 * killed. Prints "ready" once segments have been closed and the live one has data on disk.
 */
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { Sensor } from '../../src/flow/sensor.js';
import { createPacketRecorder } from '../../src/pcapstore/recorder.js';

const [dir, capture] = process.argv.slice(2) as [string, string];
const rec = createPacketRecorder({
  dir,
  segmentBytes: 256 * 1024,
  flushMs: 1,
  blockBytes: 1 << 20,
  fsync: false,
});
await rec.start();
const sensor = new Sensor(() => {});
sensor.addHook(rec);
let rounds = 0;
for (;;) {
  await readCaptureFile(capture, sensor.onFrame);
  rec.flush();
  if (++rounds === 3) process.stdout.write('ready\n');
  await new Promise((r) => setTimeout(r, 5));
}
