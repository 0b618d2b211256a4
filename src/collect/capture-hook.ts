/**
 * Capture-file path of the collector: a packet hook that finds NetFlow/IPFIX/sFlow export
 * datagrams inside a capture (UDP to the standard collector ports or to ports named with
 * `--collect-port`), decodes them with the collector's core and emits their records. The
 * protocol is detected by content, so any listed port takes any export protocol.
 * Export over TCP and IP-fragmented export datagrams inside captures are not reassembled.
 */
import type { Analyzer, FlowLookup, RecordSink } from '../analyze/types.js';
import { ipBytesToString } from '../common/addr.js';
import type { Packet } from '../decode/packet.js';
import { CollectDecoder, type CollectDecoderConfig } from './decoder.js';
import type { ExporterStats } from './types.js';

/** Ports export datagrams go to by convention: NetFlow (2055, 9995, 9996), IPFIX, sFlow. */
export const STANDARD_COLLECT_PORTS: readonly number[] = [2055, 9995, 9996, 4739, 6343];

export interface CaptureCollectorOptions {
  /** Extra UDP destination ports to decode as flow export. */
  ports: number[];
  decoder?: Partial<CollectDecoderConfig>;
}

export interface CaptureCollector extends Analyzer {
  readonly decoder: CollectDecoder;
  stats(): ExporterStats[];
}

export function createCaptureCollector(sink: RecordSink, opts: CaptureCollectorOptions): CaptureCollector {
  const ports = new Set<number>([...STANDARD_COLLECT_PORTS, ...opts.ports]);
  const decoder = new CollectDecoder(opts.decoder ?? {}, (rec) => sink(rec));
  return {
    name: 'collect',
    decoder,
    onPacket(p: Packet, _flows: FlowLookup, _slot: number, _dir: number): boolean | undefined {
      // A flow that is not UDP to or from a collector port never carries export: the sensor
      // then stops handing this hook its packets.
      if (p.proto !== 17) return false;
      if (p.fragOffset === 0 && p.l4Off >= 0 && !ports.has(p.dstPort) && !ports.has(p.srcPort)) return false;
      if (p.payloadOff < 0 || p.srcOff < 0 || !ports.has(p.dstPort)) return;
      if (p.fragOffset !== 0 || p.moreFrags) return;
      const exporter = ipBytesToString(p.buf, p.srcOff, p.ipVer);
      const nowMs = p.tsSec * 1000 + Math.floor(p.tsNs / 1e6);
      decoder.decode(p.buf, p.payloadOff, p.payloadCapLen, exporter, p.srcPort, nowMs);
    },
    finish(): void {
      decoder.finish();
    },
    stats(): ExporterStats[] {
      return [...decoder.exporters.values()];
    },
  };
}
