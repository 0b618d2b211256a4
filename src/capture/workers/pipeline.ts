import type { FlowConfig } from '../../flow/flow-table.js';
import { type ColumnSink, createSensor, type RecordSink } from '../../flow/sensor.js';
import type { FrameHandler } from '../frame.js';

/**
 * The packet path behind a live source: frames in, records out through `sink`. Either inline
 * (one Sensor on the calling thread) or sharded over worker threads (see threaded.ts); both
 * look the same to a source.
 */
export interface PipelineOptions {
  flow: Partial<FlowConfig>;
  /** Application-layer analyzers (createAnalyzers' `l7`). */
  l7: boolean;
  /** Worker threads; 0 runs the Sensor on the calling thread. */
  workers: number;
  /**
   * Flow and DNS records as column batches to this sink instead of objects to the record sink
   * (from worker threads they come by transfer, with no object per record).
   */
  columns?: ColumnSink;
  /** Rows per column batch (default 4096). */
  columnRows?: number;
}

export interface PipelineCounters {
  frames: number;
  bytes: number;
  ipPackets: number;
  nonIpPackets: number;
  weird: number;
  weirdByName: Record<string, number>;
  /** Packets dropped inside the pipeline, by stage (never silent). */
  drops: Record<string, number>;
}

export interface Pipeline {
  readonly onFrame: FrameHandler;
  /** Resolves when the pipeline can take packets at full speed (worker threads loaded). */
  readonly ready: Promise<void>;
  /** Advance flow clocks without packets (live sources call this on a timer). */
  tick(tsSec: number, tsNs: number): void;
  /** End of input: flush every flow; resolves once every record went through `sink`. */
  finish(): Promise<PipelineCounters>;
}

export function createInlinePipeline(sink: RecordSink, opts: Omit<PipelineOptions, 'workers'>): Pipeline {
  const sensor = createSensor(sink, {
    flow: opts.flow,
    l7: opts.l7,
    ...(opts.columns ? { columns: opts.columns, columnRows: opts.columnRows ?? 4096 } : {}),
  });
  return {
    onFrame: sensor.onFrame,
    ready: Promise.resolve(),
    tick: (s, ns) => {
      sensor.flows.tick(s, ns);
      sensor.flushColumns();
    },
    async finish() {
      const c = sensor.finish();
      return { ...c, drops: {} };
    },
  };
}
