/**
 * The collector component: UDP sockets (any export protocol on any port, detected by content),
 * IPFIX over TCP (messages framed by their length field), a bounded queue between the socket
 * callbacks and the decoder, and records handed to the sink in batches.
 *
 * The socket callback only queues the datagram (Node gives each one its own Buffer); decoding
 * runs in batches on a later turn of the event loop, so a burst is first pulled out of the
 * kernel buffer and then decoded. Every loss is counted: a full queue counts `drops` on the
 * exporter, a full kernel buffer shows in `socketDrops` (read from /proc/net/udp{,6}).
 */
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CollectDecoder, type CollectDecoderConfig } from './decoder.js';
import type { CollectedRecord, ExporterStats } from './types.js';

export interface CollectorConfig {
  /** Address to bind: "0.0.0.0", "::" or "127.0.0.1". */
  host: string;
  /** UDP ports (0 = ephemeral; see `addresses()`). NetFlow 2055, IPFIX 4739, sFlow 6343. */
  udpPorts: number[];
  /** TCP ports for IPFIX over TCP (RFC 7011 §10.4). */
  tcpPorts: number[];
  /** SO_RCVBUF asked for each UDP socket (the kernel caps it at net.core.rmem_max). */
  recvBufferSize: number;
  /** Datagrams queued between the socket and the decoder; more are dropped and counted. */
  maxQueue: number;
  /** Datagrams decoded per event-loop turn. */
  decodeBatch: number;
  /** Records per sink call. */
  sinkBatch: number;
  /** Where templates persist across restarts (templates.json); null: not persisted. */
  stateDir: string | null;
  /** How often changed templates are written (ms). */
  stateSaveMs: number;
  decoder: Partial<CollectDecoderConfig>;
}

export const DEFAULT_COLLECTOR_CONFIG: CollectorConfig = {
  host: '0.0.0.0',
  udpPorts: [2055, 4739, 6343],
  tcpPorts: [4739],
  recvBufferSize: 8 * 1024 * 1024,
  maxQueue: 65536,
  decodeBatch: 512,
  sinkBatch: 1024,
  stateDir: null,
  stateSaveMs: 5000,
  decoder: {},
};

export interface CollectorDeps {
  /** Receives records in batches; the array is not reused by the collector. */
  sink: (batch: CollectedRecord[]) => void;
  log?: (msg: string) => void;
}

export interface CollectorStats {
  exporters: ExporterStats[];
  totals: ExporterStats;
  /** Datagrams that were not NetFlow/IPFIX/sFlow. */
  unknown: number;
  queueDepth: number;
  queueHighWater: number;
  /** Datagrams the kernel dropped on our UDP sockets (receive buffer full). */
  socketDrops: number;
  recvBufferSize: number[];
  tcpConnections: number;
}

export interface Collector {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): CollectorStats;
  /** Bound addresses (resolves port 0). */
  addresses(): { udp: number[]; tcp: number[] };
  /** Decode everything queued now and hand pending records to the sink. */
  flush(): void;
  readonly decoder: CollectDecoder;
}

interface Queued {
  buf: Buffer;
  exporter: string;
  port: number;
  ms: number;
}

const TEMPLATE_FILE = 'templates.json';

export function createCollector(config: Partial<CollectorConfig>, deps: CollectorDeps): Collector {
  const cfg: CollectorConfig = { ...DEFAULT_COLLECTOR_CONFIG, ...config };
  let batch: CollectedRecord[] = [];
  const decoder = new CollectDecoder(cfg.decoder, (rec) => {
    batch.push(rec);
    if (batch.length >= cfg.sinkBatch) flushBatch();
  });
  const udp: dgram.Socket[] = [];
  const tcp: net.Server[] = [];
  const conns = new Set<net.Socket>();
  let queue: Queued[] = [];
  let qHead = 0;
  let highWater = 0;
  let scheduled = false;
  let saveTimer: NodeJS.Timeout | null = null;
  let running = false;
  /** Socket drops read just before the sockets closed (they vanish from /proc after). */
  let closedDrops = 0;

  function flushBatch(): void {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    deps.sink(b);
  }

  function enqueue(buf: Buffer, exporter: string, port: number): void {
    const depth = queue.length - qHead;
    if (depth >= cfg.maxQueue) {
      decoder.stats(exporter, port).drops++;
      return;
    }
    queue.push({ buf, exporter, port, ms: Date.now() });
    if (depth + 1 > highWater) highWater = depth + 1;
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }

  function drain(): void {
    scheduled = false;
    const end = Math.min(queue.length, qHead + cfg.decodeBatch);
    for (; qHead < end; qHead++) {
      const q = queue[qHead]!;
      decoder.decode(q.buf, 0, q.buf.length, q.exporter, q.port, q.ms);
    }
    if (qHead === queue.length) {
      queue = [];
      qHead = 0;
      flushBatch();
    } else {
      if (qHead > 4096) {
        queue = queue.slice(qHead);
        qHead = 0;
      }
      scheduled = true;
      setImmediate(drain);
    }
  }

  function flush(): void {
    while (qHead < queue.length) {
      const q = queue[qHead++]!;
      decoder.decode(q.buf, 0, q.buf.length, q.exporter, q.port, q.ms);
    }
    queue = [];
    qHead = 0;
    flushBatch();
  }

  function statePath(): string | null {
    return cfg.stateDir ? join(cfg.stateDir, TEMPLATE_FILE) : null;
  }

  function saveState(): void {
    const p = statePath();
    if (!p || !decoder.dirty) return;
    try {
      mkdirSync(cfg.stateDir!, { recursive: true });
      writeFileSync(`${p}.tmp`, JSON.stringify(decoder.saveTemplates()));
      renameSync(`${p}.tmp`, p);
    } catch (e) {
      deps.log?.(`collector: cannot save templates to ${p}: ${(e as Error).message}`);
    }
  }

  function loadState(): void {
    const p = statePath();
    if (!p) return;
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      return;
    }
    try {
      const n = decoder.loadTemplates(JSON.parse(text));
      deps.log?.(`collector: ${n} templates restored from ${p}`);
    } catch (e) {
      deps.log?.(`collector: ignoring damaged ${p}: ${(e as Error).message}`);
    }
  }

  function bindUdp(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({
        type: cfg.host.includes(':') ? 'udp6' : 'udp4',
        recvBufferSize: cfg.recvBufferSize,
      });
      s.once('error', reject);
      s.on('message', (msg, rinfo) => enqueue(msg, rinfo.address, rinfo.port));
      s.bind(port, cfg.host, () => {
        s.off('error', reject);
        s.on('error', (e) => deps.log?.(`collector: udp ${port}: ${e.message}`));
        try {
          s.setRecvBufferSize(cfg.recvBufferSize);
        } catch {
          // the kernel keeps its own cap; the figure is in stats()
        }
        udp.push(s);
        resolve();
      });
    });
  }

  function onTcp(sock: net.Socket): void {
    conns.add(sock);
    const exporter = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    const port = sock.remotePort ?? 0;
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let o = 0;
      while (pending.length - o >= 4) {
        const ver = pending.readUInt16BE(o);
        const len = pending.readUInt16BE(o + 2);
        if (ver !== 10 || len < 16) {
          // Framing lost: nothing after this point can be trusted.
          decoder.stats(exporter, port).decodeErrors++;
          sock.destroy();
          return;
        }
        if (pending.length - o < len) break;
        enqueue(pending.subarray(o, o + len), exporter, port);
        o += len;
      }
      pending = o === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(o));
    });
    sock.on('error', () => {});
    sock.on('close', () => conns.delete(sock));
  }

  function bindTcp(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer(onTcp);
      srv.once('error', reject);
      srv.listen(port, cfg.host, () => {
        srv.off('error', reject);
        tcp.push(srv);
        resolve();
      });
    });
  }

  function socketDrops(): number {
    const ports = new Set(udp.map((s) => s.address().port));
    let drops = 0;
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        const local = cols[1];
        if (!local) continue;
        const port = Number.parseInt(local.split(':')[1] ?? '', 16);
        if (ports.has(port)) drops += Number(cols[cols.length - 1]) || 0;
      }
    }
    return drops;
  }

  return {
    decoder,
    async start(): Promise<void> {
      if (running) return;
      loadState();
      try {
        for (const p of cfg.udpPorts) await bindUdp(p);
        for (const p of cfg.tcpPorts) await bindTcp(p);
      } catch (e) {
        for (const s of udp.splice(0)) s.close();
        for (const s of tcp.splice(0)) s.close();
        throw e;
      }
      running = true;
      if (cfg.stateDir) {
        saveTimer = setInterval(saveState, cfg.stateSaveMs);
        saveTimer.unref();
      }
    },
    async stop(): Promise<void> {
      if (!running) return;
      running = false;
      if (saveTimer) clearInterval(saveTimer);
      closedDrops += socketDrops();
      await Promise.all(udp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const c of conns) c.destroy();
      await Promise.all(tcp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
      flush();
      saveState();
    },
    flush,
    addresses() {
      return {
        udp: udp.map((s) => s.address().port),
        tcp: tcp.map((s) => (s.address() as net.AddressInfo).port),
      };
    },
    stats(): CollectorStats {
      return {
        exporters: [...decoder.exporters.values()].map((s) => ({ ...s })),
        totals: decoder.totals(),
        unknown: decoder.unknown,
        queueDepth: queue.length - qHead,
        queueHighWater: highWater,
        socketDrops: closedDrops + socketDrops(),
        recvBufferSize: udp.map((s) => s.getRecvBufferSize()),
        tcpConnections: conns.size,
      };
    },
  };
}
