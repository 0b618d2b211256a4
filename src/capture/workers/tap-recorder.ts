import { Decoder } from '../../decode/decoder.js';
import type { CaptureReader, PacketRecorder } from '../../pcapstore/recorder.js';
import { type FrameHandler, newFrame } from '../frame.js';
import { type BatchView, batchReader } from './batch.js';
import { FlowMirror, type FlowTapBatch } from './flow-tap.js';

/**
 * The packet recorder fed batches that a Sensor on another thread has already read, each with
 * its packets' flow slots: the recorder copies the batch's runs and indexes every packet with
 * the flow id and Community ID the Sensor's table had at that packet. Used on the main thread
 * (the Sensor on the pipeline worker) and on a recorder thread (the Sensor on the main thread).
 */
export function tapRecording(recorder: PacketRecorder): {
  record(b: BatchView, tap: FlowTapBatch): Promise<void>;
} {
  const decoder = new Decoder();
  const mirror = new FlowMirror();
  const frame = newFrame();
  let cur: BatchView | null = null;
  let tap: FlowTapBatch | null = null;
  let k = 0;
  const onFrame: FrameHandler = (f) => {
    const slot = mirror.at(tap!, k++);
    recorder.onPacket(decoder.decode(f), mirror, slot, 0);
  };
  const readOne: CaptureReader = batchReader(() => cur!, frame);
  const via = recorder.reader(readOne);
  return {
    async record(b, t) {
      cur = b;
      tap = t;
      k = 0;
      mirror.begin();
      try {
        await via('', onFrame);
      } finally {
        cur = null;
        tap = null;
      }
    },
  };
}
