/**
 * NetFlow v9 (RFC 3954) shares its template machinery with IPFIX: see ../ipfix/decode.ts.
 * This module names the entry point for v9 so each protocol has its folder.
 */
import type { CollectDecoder } from '../decoder.js';
import { decodeTemplated } from '../ipfix/decode.js';
import type { ExporterStats } from '../types.js';

export function decodeNetflow9(
  d: CollectDecoder,
  b: Buffer,
  off: number,
  len: number,
  exporter: string,
  port: number,
  nowMs: number,
  st: ExporterStats,
): void {
  decodeTemplated(d, 9, b, off, len, exporter, port, nowMs, st);
}
