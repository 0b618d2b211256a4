import { createAppId } from './app-id/analyzer.js';
import { createArpAnalyzer } from './arp/analyzer.js';
import { claimGate, GateTable } from './claim-gate.js';
import { createDeviceInventory } from './devices/inventory.js';
import { createHostProfiler, type ProfilerConfig } from './devices/profiler.js';
import { createDhcpAnalyzer } from './dhcp/analyzer.js';
import { createDnsAnalyzer } from './dns/analyzer.js';
import { DnsNameCache } from './dns/name-cache.js';
import { FlowNotes } from './flow-notes.js';
import { createHttpAnalyzer } from './http/analyzer.js';
import { probeHttp } from './http/probe.js';
import { createQuicAnalyzer } from './quic/analyzer.js';
import type { RecordColumnBuilder } from './record-columns.js';
import { createSmbAnalyzer } from './smb/analyzer.js';
import { probeSmb } from './smb/probe.js';
import { createSshAnalyzer } from './ssh/analyzer.js';
import { probeSsh } from './ssh/probe.js';
import { createTlsAnalyzer } from './tls/analyzer.js';
import { probeTls } from './tls/probe.js';
import type { Analyzer, RecordSink } from './types.js';

/** Builders of the L7 records written as columns (the store path), one per record type. */
export interface L7Columns {
  dns: RecordColumnBuilder;
  /** TLS over TCP and QUIC's handshakes alike: one batch order for both. */
  tls: RecordColumnBuilder;
  http: RecordColumnBuilder;
}

export interface AnalyzerSetOptions {
  /** DNS, TLS and HTTP records as rows of these columns instead of objects (the store path). */
  columns?: L7Columns;
  /** Application-layer parsing (DNS, HTTP, TLS, QUIC, SSH, SMB, DHCP, ARP/ND, devices, app id). */
  l7: boolean;
  /** Host profiler caps and flush interval (defaults: DEFAULT_PROFILER_CONFIG). */
  profiler?: Partial<ProfilerConfig>;
}

/**
 * The analyzers of a sensor, in the order they must see each packet: protocol parsers first,
 * the device inventory after the parsers that feed it, application id last (it reads what the
 * others noted about a flow, then drops it).
 */
export function createAnalyzers(sink: RecordSink, opts: AnalyzerSetOptions): Analyzer[] {
  if (!opts.l7) return [];
  const notes = new FlowNotes();
  const names = new DnsNameCache();
  const inventory = createDeviceInventory(sink);
  const profiler = createHostProfiler(sink, opts.profiler);
  // The profiler reads the DHCP, DNS and HTTP records those analyzers emit (fingerprints,
  // PTR answers, User-Agents) instead of parsing their packets a second time.
  const sink7: RecordSink = (r) => {
    if (r.type === 'dhcp' || r.type === 'dns' || r.type === 'http') profiler.onRecord(r);
    sink(r);
  };
  const cols = opts.columns;
  const seen = (r: { type: string; [k: string]: unknown }): void => profiler.onRecord(r);
  // The four gates' state per slot in one row: one cache line per packet and flow end for all.
  const gates = new GateTable();
  return [
    createDnsAnalyzer(sink7, {
      names,
      notes,
      ...(cols ? { columns: cols.dns, observe: seen } : {}),
    }),
    claimGate(
      createHttpAnalyzer(sink7, { notes, ...(cols ? { columns: cols.http, observe: seen } : {}) }),
      notes,
      'http',
      probeHttp,
      undefined,
      gates,
    ),
    claimGate(
      createTlsAnalyzer(sink, { notes, ...(cols ? { columns: cols.tls } : {}) }),
      notes,
      'tls',
      probeTls,
      undefined,
      gates,
    ),
    createQuicAnalyzer(sink, { notes, ...(cols ? { columns: cols.tls } : {}) }),
    claimGate(createSshAnalyzer(sink, { notes }), notes, 'ssh', probeSsh, undefined, gates),
    claimGate(createSmbAnalyzer(sink, { notes }), notes, 'smb', probeSmb, undefined, gates),
    createDhcpAnalyzer(sink7, { inventory, notes }),
    createArpAnalyzer({ inventory }),
    inventory,
    profiler,
    createAppId({ notes, names }),
  ];
}
