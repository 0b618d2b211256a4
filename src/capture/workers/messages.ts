import type { FlowTableStats } from '../../flow/flow-table.js';
import type { SensorRecord } from '../../flow/sensor.js';
import type { RecorderConfig, RecorderCounters } from '../../pcapstore/recorder.js';
import type { WireColumnar } from '../../store/columnar-wire.js';
import type { FlowTapBatch } from './flow-tap.js';
import type { Sched } from './pipe-prof.js';
import type { PipelineCounters, PipelineOptions } from './pipeline.js';

/** What a pipeline worker is built with (plain data: it crosses the thread boundary). */
export interface WorkerConfig extends Omit<PipelineOptions, 'workers' | 'columns'> {
  /** Flow and DNS records leave as column batches of this many rows (0: as objects). */
  columnRows: number;
  /** Record every packet into this packet store (the worker sees the batches' bytes). */
  recorder?: Partial<RecorderConfig> & { dir: string };
  /** Decode NetFlow/IPFIX/sFlow datagrams inside the packets (ports besides the standard ones). */
  collectPorts?: number[];
  /** Return each batch with its packets' flow slots (for packet hooks on the main thread). */
  flowTap?: boolean;
  /** Object records held back until this many are waiting (1: one message per packet batch). */
  recordBunch: number;
  /** Batches carry each packet's overload-sampling factor; flow records get `sampling_rate`. */
  samplingMarks?: boolean;
}

/** Messages of the threaded pipeline. */
export type ToWorker =
  | {
      type: 'batch';
      buf: ArrayBuffer;
      /** Where the records end, and (when not 0) where they start: a file read straight into the batch. */
      bytes: number;
      start?: number;
      packets: number;
      linkType: number;
      ifIndex: number;
      /** With `samplingMarks`: the sampling factor of each packet, in order. */
      factors?: Uint16Array;
    }
  | { type: 'tick'; sec: number; ns: number }
  | { type: 'weird'; name: string; detail: string }
  | { type: 'finish' };

export interface WorkerDone {
  counters: PipelineCounters;
  flows: FlowTableStats;
  recorder: RecorderCounters | null;
  /** CPU seconds the worker thread used (user + system). */
  cpuSeconds: number;
  /** Of which at the end of input (the flow table's last records, the recorder's close). */
  finishCpuSeconds: number;
  /** With VANTAGE_PIPE_PROF=1: the worker's kernel id and its busy intervals (wall ms pairs). */
  prof?: { tid: number; busy: number[]; busyRunq: number; sched0: Sched; sched: Sched };
}

export type ToMain =
  | { type: 'ready' }
  | {
      type: 'free';
      buf: ArrayBuffer;
      packets: number;
      bytes: number;
      start?: number;
      linkType: number;
      ifIndex: number;
      tap?: FlowTapBatch;
    }
  | { type: 'records'; records: SensorRecord[] }
  /** One column batch in its wire form; its typed arrays were transferred. */
  | { type: 'columns'; rtype: string; c: WireColumnar }
  | { type: 'failed'; message: string }
  | ({ type: 'done' } & WorkerDone);
