import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes: scrypt (memory-hard) with a per-user salt. The parameters are stored with
 * the hash (`scrypt$N$r$p$salt$hash`, base64url) so they can be raised later: a hash made with
 * weaker parameters still verifies and is re-hashed at the next successful sign-in.
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two (2^15 = 32 MiB with r = 8). */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };
const KEY_LEN = 32;

function derive(password: string, salt: Buffer, prm: ScryptParams, len = KEY_LEN): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is exactly 2^15·8·128, too tight.
    const maxmem = 256 * prm.N * prm.r + (1 << 20);
    scrypt(password, salt, len, { N: prm.N, r: prm.r, p: prm.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string, prm: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, prm);
  return `scrypt$${prm.N}$${prm.r}$${prm.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export function parseHash(stored: string): (ScryptParams & { salt: Buffer; key: Buffer }) | null {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{4,64})\$([A-Za-z0-9_-]{16,128})$/.exec(
    stored,
  );
  if (!m) return null;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // Bounded so a damaged users.json cannot make one check allocate gigabytes.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64url'), key: Buffer.from(m[5]!, 'base64url') };
}

/** Whether `password` matches `stored`; a malformed stored hash never matches. Constant-time compare. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parseHash(stored);
  if (!h) return false;
  const key = await derive(password, h.salt, h, h.key.length);
  return timingSafeEqual(key, h.key);
}

/** Whether a stored hash was made with weaker parameters than `want` (re-hash it). */
export function needsRehash(stored: string, want: ScryptParams): boolean {
  const h = parseHash(stored);
  return !h || h.N < want.N || h.r < want.r || h.p < want.p;
}

/** A random password people can type: 20 characters from an unambiguous alphabet (~116 bits). */
export function randomPassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = randomBytes(40);
  let out = '';
  for (const b of bytes) {
    // 228 = 4 × 57: rejecting the tail keeps every character equally likely.
    if (b >= 228) continue;
    out += alphabet[b % alphabet.length];
    if (out.length === 20) break;
  }
  return out.length === 20 ? out : randomPassword();
}
