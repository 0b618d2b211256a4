/** Tiny packet builders for hand-made packets: the tests' and the demo generator's (checksums are left zero: the decoder ignores them). */

const u16 = (v: number): number[] => [(v >> 8) & 255, v & 255];
const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const ip4 = (s: string): number[] => s.split('.').map(Number);

export function eth(
  type: number,
  payload: number[],
  src = '02:00:00:00:00:01',
  dst = '02:00:00:00:00:02',
): number[] {
  const mac = (m: string): number[] => m.split(':').map((x) => Number.parseInt(x, 16));
  return [...mac(dst), ...mac(src), ...u16(type), ...payload];
}

export function vlanTag(vid: number, inner: number, tpid = 0x8100): number[] {
  return [...u16(tpid), ...u16(vid), ...u16(inner)];
}

/** Ethernet frame with a stack of VLAN tags: tags[0] outermost with its TPID. */
export function ethVlans(tags: [number, number][], type: number, payload: number[]): number[] {
  const dst = [2, 0, 0, 0, 0, 2];
  const src = [2, 0, 0, 0, 0, 1];
  const out = [...dst, ...src];
  for (const [tpid, vid] of tags) out.push(...u16(tpid), ...u16(vid));
  return [...out, ...u16(type), ...payload];
}

export interface Ip4Opts {
  src?: string;
  dst?: string;
  proto: number;
  id?: number;
  mf?: boolean;
  fragOffset?: number;
  options?: number[];
  totalLength?: number;
  ttl?: number;
}

export function ipv4(o: Ip4Opts, payload: number[]): number[] {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  const total = o.totalLength ?? hl + payload.length;
  const ff = (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3);
  return [
    0x40 | (hl >> 2),
    0,
    ...u16(total),
    ...u16(o.id ?? 1),
    ...u16(ff),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...ip4(o.src ?? '10.0.0.1'),
    ...ip4(o.dst ?? '10.0.0.2'),
    ...opts,
    ...payload,
  ];
}

export function ipv6(src: number[], dst: number[], next: number, payload: number[], plen?: number): number[] {
  return [0x60, 0, 0, 0, ...u16(plen ?? payload.length), next, 64, ...src, ...dst, ...payload];
}

export function v6(last: number): number[] {
  return [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
}

export interface TcpOpts {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags: number;
  win?: number;
  options?: number[];
}

export function tcp(o: TcpOpts, payload: number[] = []): number[] {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  return [
    ...u16(o.sport),
    ...u16(o.dport),
    ...u32(o.seq ?? 0),
    ...u32(o.ack ?? 0),
    (hl >> 2) << 4,
    o.flags,
    ...u16(o.win ?? 65535),
    0,
    0,
    0,
    0,
    ...opts,
    ...payload,
  ];
}

export function udp(sport: number, dport: number, payload: number[], len?: number): number[] {
  return [...u16(sport), ...u16(dport), ...u16(len ?? 8 + payload.length), 0, 0, ...payload];
}

export function vxlan(vni: number, inner: number[]): number[] {
  return [0x08, 0, 0, 0, ...u32(vni << 8), ...inner];
}

export function gre(proto: number, payload: number[], key?: number, seq?: number): number[] {
  const flags = (key !== undefined ? 0x2000 : 0) | (seq !== undefined ? 0x1000 : 0);
  return [
    ...u16(flags),
    ...u16(proto),
    ...(key !== undefined ? u32(key) : []),
    ...(seq !== undefined ? u32(seq) : []),
    ...payload,
  ];
}

export const bytes = (a: number[]): Buffer => Buffer.from(a);
