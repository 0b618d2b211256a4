/**
 * QUIC v1 Initial packets (RFC 9000 §17.2.2, RFC 9001 §5): the keys follow from the client's
 * first Destination Connection ID, so any observer can remove the protection and read the
 * CRYPTO frames that carry the TLS ClientHello and ServerHello.
 */
import { type Cipher, createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { type QuicBinding, quicBinding } from './native.js';

export const QUIC_V1 = 0x00000001;
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');

export interface InitialKeys {
  /** key (16), iv (12) and hp (16) end to end: the layout the addon reads. */
  raw: Buffer;
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
  /** The header-protection cipher of the JavaScript path, made on first use and kept: ECB has no state between blocks. */
  hpCipher?: Cipher;
}

function hkdfExtract(salt: Buffer, ikm: Buffer): Buffer {
  return createHmac('sha256', salt).update(ikm).digest();
}

/** HKDF-Expand-Label of TLS 1.3 with an empty context, for outputs of at most 32 bytes. */
function expandLabel(secret: Buffer, label: string, len: number): Buffer {
  const full = `tls13 ${label}`;
  const info = Buffer.alloc(2 + 1 + full.length + 1 + 1);
  info.writeUInt16BE(len, 0);
  info[2] = full.length;
  info.write(full, 3, 'latin1');
  info[3 + full.length] = 0; // empty context
  info[4 + full.length] = 1; // HKDF-Expand counter of the first block
  return createHmac('sha256', secret).update(info).digest().subarray(0, len);
}

const KEYS_LEN = 44;

function keysOf(raw: Buffer): InitialKeys {
  return { raw, key: raw.subarray(0, 16), iv: raw.subarray(16, 28), hp: raw.subarray(28, 44) };
}

/** Client (`client in`) or server (`server in`) Initial keys, derived with Node's HMAC objects. */
export function initialKeysJs(dcid: Buffer, side: 'client' | 'server'): InitialKeys {
  const initial = hkdfExtract(INITIAL_SALT_V1, dcid);
  const secret = expandLabel(initial, side === 'client' ? 'client in' : 'server in', 32);
  const raw = Buffer.allocUnsafe(KEYS_LEN);
  expandLabel(secret, 'quic key', 16).copy(raw, 0);
  expandLabel(secret, 'quic iv', 12).copy(raw, 16);
  expandLabel(secret, 'quic hp', 16).copy(raw, 28);
  return keysOf(raw);
}

/**
 * Initial keys for the client's original DCID dcid[off, off + len): through the addon when
 * `binding` is given (the default: the addon when built), else with Node's HMAC objects.
 */
export function initialKeys(
  dcid: Buffer,
  side: 'client' | 'server',
  binding: QuicBinding | null = quicBinding,
  off = 0,
  len = dcid.length - off,
): InitialKeys {
  if (binding !== null) {
    const raw = Buffer.allocUnsafe(KEYS_LEN);
    if (binding.quicInitialKeys(dcid, off, len, side === 'server', raw) === KEYS_LEN) return keysOf(raw);
  }
  return initialKeysJs(off === 0 && len === dcid.length ? dcid : dcid.subarray(off, off + len), side);
}

/**
 * Initial keys by connection id, bounded (oldest dropped first). A client that retransmits its
 * Initial, a connection seen twice (two taps, a mirror) or a server's Initials reuse the keys
 * instead of a dozen HMAC and cipher objects each time.
 */
export class InitialKeyCache {
  private readonly m = new Map<string, InitialKeys>();
  hits = 0;
  evictions = 0;

  constructor(
    private readonly side: 'client' | 'server',
    private readonly cap = 4096,
    private readonly binding: QuicBinding | null = quicBinding,
  ) {}

  /** Keys for the connection id in b[off, off + len); `id` is its latin1 text. */
  get(id: string, b: Buffer, off: number, len: number): InitialKeys {
    const k = this.m.get(id);
    if (k !== undefined) {
      this.hits++;
      return k;
    }
    if (this.m.size >= this.cap) {
      const oldest = this.m.keys().next();
      if (!oldest.done) this.m.delete(oldest.value);
      this.evictions++;
    }
    const keys = initialKeys(b, this.side, this.binding, off, len);
    this.m.set(id, keys);
    return keys;
  }

  get size(): number {
    return this.m.size;
  }

  clear(): void {
    this.m.clear();
  }
}

/** A QUIC variable-length integer at b[p]; sets `varintLen` (0 when it does not fit before `end`). */
export let varintLen = 0;
export function readVarint(b: Buffer, p: number, end: number): number {
  if (p >= end) {
    varintLen = 0;
    return 0;
  }
  const first = b[p]!;
  const n = 1 << (first >> 6);
  if (p + n > end) {
    varintLen = 0;
    return 0;
  }
  varintLen = n;
  let v = first & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + b[p + i]!;
  return v;
}

/** Long-header facts of the packet at b[off]. */
export interface LongHeader {
  version: number;
  type: number;
  dcidOff: number;
  dcidLen: number;
  scidOff: number;
  scidLen: number;
  /** Offset of the (protected) packet number. */
  pnOff: number;
  /** End of this packet (coalesced packets may follow). */
  end: number;
}

/** A long header to parse into again and again. */
export function newLongHeader(): LongHeader {
  return { version: 0, type: 0, dcidOff: 0, dcidLen: 0, scidOff: 0, scidLen: 0, pnOff: 0, end: 0 };
}

function fill(
  h: LongHeader,
  version: number,
  type: number,
  dcidOff: number,
  dcidLen: number,
  scidOff: number,
  scidLen: number,
  pnOff: number,
  end: number,
): LongHeader {
  h.version = version;
  h.type = type;
  h.dcidOff = dcidOff;
  h.dcidLen = dcidLen;
  h.scidOff = scidOff;
  h.scidLen = scidLen;
  h.pnOff = pnOff;
  h.end = end;
  return h;
}

/**
 * Parse a long header at b[off, end) into `into` (a new object when not given); null when it is
 * not one or is cut short. The analyzer passes one object for every packet.
 */
export function parseLongHeader(b: Buffer, off: number, end: number, into?: LongHeader): LongHeader | null {
  if (end - off < 7) return null;
  const b0 = b[off]!;
  if ((b0 & 0xc0) !== 0xc0) return null;
  const version = b.readUInt32BE(off + 1);
  let p = off + 5;
  const dcidLen = b[p++]!;
  if (dcidLen > 20 || p + dcidLen + 1 > end) return null;
  const dcidOff = p;
  p += dcidLen;
  const scidLen = b[p++]!;
  if (scidLen > 20 || p + scidLen > end) return null;
  const scidOff = p;
  p += scidLen;
  const type = (b0 >> 4) & 3;
  const h = into ?? newLongHeader();
  if (version !== QUIC_V1) return fill(h, version, type, dcidOff, dcidLen, scidOff, scidLen, p, end);
  if (type === 0) {
    const tokenLen = readVarint(b, p, end);
    if (varintLen === 0) return null;
    p += varintLen + tokenLen;
  } else if (type === 3) return fill(h, version, type, dcidOff, dcidLen, scidOff, scidLen, p, end); // Retry
  const len = readVarint(b, p, end);
  if (varintLen === 0) return null;
  p += varintLen;
  if (p + len > end || len < 20) return null;
  return fill(h, version, type, dcidOff, dcidLen, scidOff, scidLen, p, p + len);
}

/**
 * Remove header protection and decrypt the Initial packet at b[off] with header `h`, with
 * Node's cipher objects (two per call: the keys change with every connection).
 * The capture buffer is left untouched. Returns the plaintext payload, or null when
 * authentication fails (wrong keys, damaged packet).
 */
export function decryptInitialJs(b: Buffer, off: number, h: LongHeader, keys: InitialKeys): Buffer | null {
  const sampleOff = h.pnOff + 4;
  if (sampleOff + 16 > h.end) return null;
  let ecb = keys.hpCipher;
  if (ecb === undefined) {
    ecb = createCipheriv('aes-128-ecb', keys.hp, null);
    ecb.setAutoPadding(false);
    keys.hpCipher = ecb;
  }
  const mask = ecb.update(b.subarray(sampleOff, sampleOff + 16));
  const b0 = b[off]! ^ (mask[0]! & 0x0f);
  const pnLen = (b0 & 3) + 1;
  const hdrLen = h.pnOff - off + pnLen;
  const header = Buffer.allocUnsafe(hdrLen);
  b.copy(header, 0, off, h.pnOff + pnLen);
  header[0] = b0;
  let pn = 0;
  for (let i = 0; i < pnLen; i++) {
    const v = b[h.pnOff + i]! ^ mask[1 + i]!;
    header[h.pnOff - off + i] = v;
    pn = pn * 256 + v;
  }
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 4; i++) nonce[11 - i]! ^= (pn >>> (8 * i)) & 0xff;
  const ctStart = h.pnOff + pnLen;
  const tagStart = h.end - 16;
  if (tagStart < ctStart) return null;
  try {
    const gcm = createDecipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(header);
    gcm.setAuthTag(b.subarray(tagStart, h.end));
    const out = gcm.update(b.subarray(ctStart, tagStart));
    gcm.final();
    return out;
  } catch {
    return null;
  }
}

/**
 * Open the Initial packet at b[off] with header `h` into out[0, n) and return n, or -1 when it
 * is cut short, larger than `out` or fails authentication. Through the addon when `binding` is
 * given (one call, nothing allocated), else with Node's cipher objects; both give the same bytes.
 * The capture buffer is left untouched.
 */
export function openInitial(
  b: Buffer,
  off: number,
  h: LongHeader,
  keys: InitialKeys,
  out: Buffer,
  binding: QuicBinding | null = quicBinding,
): number {
  if (binding !== null) return binding.quicOpenInitial(b, off, h.pnOff, h.end, keys.raw, out);
  const plain = decryptInitialJs(b, off, h, keys);
  if (plain === null || plain.length > out.length) return -1;
  return plain.copy(out, 0);
}

/** Takes each CRYPTO frame: stream offset and the data in b[a, e). */
export interface CryptoSink {
  add(offset: number, b: Buffer, a: number, e: number): void;
}

/**
 * Walk the frames of a decrypted Initial payload b[0, end), handing CRYPTO frames to `sink`.
 * Returns false on a frame type that may not appear in an Initial packet or a cut frame.
 */
export function walkFrames(b: Buffer, end: number, sink: CryptoSink): boolean {
  let p = 0;
  while (p < end) {
    const t = readVarint(b, p, end);
    if (varintLen === 0) return false;
    p += varintLen;
    if (t === 0x00) {
      // PADDING: a client pads its Initial to 1,200 bytes, one frame per zero byte.
      while (p < end && b[p] === 0) p++;
      continue;
    }
    if (t === 0x01) continue; // PING
    if (t === 0x02 || t === 0x03) {
      // ACK: largest, delay, range count, first range, ranges, [ECN counts]
      let ranges = 0;
      for (let i = 0; i < 4; i++) {
        const v = readVarint(b, p, end);
        if (varintLen === 0) return false;
        if (i === 2) ranges = v;
        p += varintLen;
      }
      let more = ranges * 2 + (t === 0x03 ? 3 : 0);
      while (more-- > 0) {
        readVarint(b, p, end);
        if (varintLen === 0) return false;
        p += varintLen;
      }
      continue;
    }
    if (t === 0x06) {
      const off = readVarint(b, p, end);
      if (varintLen === 0) return false;
      p += varintLen;
      const len = readVarint(b, p, end);
      if (varintLen === 0) return false;
      p += varintLen;
      if (p + len > end) return false;
      sink.add(off, b, p, p + len);
      p += len;
      continue;
    }
    if (t === 0x1c || t === 0x1d) return true; // CONNECTION_CLOSE: nothing more to read
    return false;
  }
  return true;
}

/**
 * The CRYPTO stream of one direction, reassembled from frames that may come out of order
 * and across packets, up to `limit` bytes.
 */
export class CryptoStream implements CryptoSink {
  buf: Buffer | null = null;
  /** Received byte ranges [start, end), sorted and merged. */
  private ranges: number[] = [];

  constructor(private readonly limit = 16 * 1024) {}

  add(offset: number, b: Buffer, a: number, e: number): void {
    if (offset >= this.limit) return;
    const n = Math.min(e - a, this.limit - offset);
    if (n <= 0) return;
    const need = offset + n;
    if (this.buf === null || this.buf.length < need) {
      // Not zero-filled (a stream per QUIC connection): only received ranges are ever read.
      const nb = Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, 2048)));
      if (this.buf !== null) this.buf.copy(nb);
      this.buf = nb;
    }
    b.copy(this.buf, offset, a, a + n);
    this.mark(offset, need);
  }

  private mark(s: number, e: number): void {
    const r = this.ranges;
    const out: number[] = [];
    let placed = false;
    for (let i = 0; i < r.length; i += 2) {
      const rs = r[i]!;
      const re = r[i + 1]!;
      if (re < s) out.push(rs, re);
      else if (rs > e) {
        if (!placed) {
          out.push(s, e);
          placed = true;
        }
        out.push(rs, re);
      } else {
        s = Math.min(s, rs);
        e = Math.max(e, re);
      }
    }
    if (!placed) out.push(s, e);
    this.ranges = out;
  }

  /** Bytes available from offset 0 without a hole. */
  get contiguous(): number {
    return this.ranges.length > 0 && this.ranges[0] === 0 ? this.ranges[1]! : 0;
  }

  /** A whole handshake message of the given type at offset 0: its body end, else -1. */
  message(type: number): number {
    const c = this.contiguous;
    if (c < 4 || this.buf === null || this.buf[0] !== type) return -1;
    const total = 4 + this.buf.readUIntBE(1, 3);
    return total <= c ? total : -1;
  }

  /** The first message can never complete within the limit. */
  get hopeless(): boolean {
    const c = this.contiguous;
    return c >= 4 && this.buf !== null && 4 + this.buf.readUIntBE(1, 3) > this.limit;
  }
}
