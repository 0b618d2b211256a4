import type { SensorRecord } from '../../flow/sensor.js';
import type { PipelineCounters } from './pipeline.js';

/** Messages of the threaded pipeline. */
export type ToWorker =
  | { type: 'batch'; buf: ArrayBuffer; bytes: number; packets: number }
  | { type: 'tick'; sec: number; ns: number }
  | { type: 'finish' };

export type ToMain =
  | { type: 'ready' }
  | { type: 'free'; buf: ArrayBuffer; packets: number }
  | { type: 'records'; records: SensorRecord[] }
  | { type: 'done'; counters: PipelineCounters };
