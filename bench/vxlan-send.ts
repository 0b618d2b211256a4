import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The paced VXLAN sender of the benches and tests (native/pcap/src/vxlan_send.c, built beside
 * the addon by `npm rebuild vantage-pcap`): a process of its own, so its CPU (which on loopback
 * includes the kernel's delivery into the receiver's socket) is not the receiver's.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface VxlanSendOptions {
  pcap: string;
  /** "127.0.0.1:PORT" or "[::1]:PORT". */
  to: string;
  /** Datagrams per second (0: as fast as the socket takes them). */
  rate: number;
  /** Stop after this many seconds, or after `count` datagrams (whichever comes first). */
  seconds?: number;
  count?: number;
  /** The first N Ethernet frames of the file are sent, pass after pass. */
  frames?: number;
  vni?: number;
  /** Every pass under the same VNI (default: VNI + pass number, new flows each pass). */
  sameVni?: boolean;
  batch?: number;
  /** Its own session (setsid), so its own scheduling group, as a sender on another machine. */
  ownSession?: boolean;
}

export interface VxlanSendResult {
  /** Datagrams the kernel accepted; refused ones are in `errors`. */
  sent: number;
  errors: number;
  seconds: number;
  /** sent / seconds. */
  rate: number;
  asked: number;
  frames: number;
  passes: number;
  /** Longest the sender was behind its schedule (ms). */
  lagMaxMs: number;
  cpuUser: number;
  cpuSys: number;
}

/** The built sender, or null (the addon was not built, or built before the tool existed). */
export function vxlanSendPath(): string | null {
  const p = `${ROOT}native/pcap/build/Release/vxlan_send`;
  return existsSync(p) ? p : null;
}

export function runVxlanSend(o: VxlanSendOptions): Promise<VxlanSendResult> {
  const bin = vxlanSendPath();
  if (!bin) return Promise.reject(new Error('vxlan_send is not built (npm rebuild vantage-pcap)'));
  const args = ['--pcap', o.pcap, '--to', o.to, '--rate', String(o.rate)];
  if (o.seconds !== undefined) args.push('--seconds', String(o.seconds));
  if (o.count !== undefined) args.push('--count', String(o.count));
  if (o.frames !== undefined) args.push('--frames', String(o.frames));
  if (o.vni !== undefined) args.push('--vni', String(o.vni));
  if (o.batch !== undefined) args.push('--batch', String(o.batch));
  if (o.sameVni) args.push('--same-vni');
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { detached: o.ownSession === true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`vxlan_send exited with ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as VxlanSendResult);
      } catch {
        reject(new Error(`vxlan_send printed no result: ${out.trim()} ${err.trim()}`));
      }
    });
  });
}
