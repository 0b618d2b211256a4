import { createAnalyzers } from '../../analyze/index.js';
import type { FlowConfig } from '../../flow/flow-table.js';
import { type RecordSink, Sensor } from '../../flow/sensor.js';
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
  const sensor = new Sensor(sink, opts.flow);
  for (const a of createAnalyzers(sink, { l7: opts.l7 })) sensor.addHook(a);
  return {
    onFrame: sensor.onFrame,
    ready: Promise.resolve(),
    tick: (s, ns) => sensor.flows.tick(s, ns),
    async finish() {
      const c = sensor.finish();
      return { ...c, drops: {} };
    },
  };
}
