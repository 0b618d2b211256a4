import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Signed approval links: `…/approvals/ID/link?u=USER&d=approve&e=EXPIRY&n=NONCE&s=HMAC`. The
 * HMAC (key in DIR/respond/link.key, never sent) binds the approval, the person, the decision,
 * the expiry and a nonce; the engine refuses a nonce it has seen (single use) and an expiry
 * past (expired).
 */
export class LinkSigner {
  private readonly key: Buffer;

  constructor(path: string) {
    if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    this.key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  }

  private mac(id: string, user: string, decision: string, exp: number, nonce: string): string {
    return createHmac('sha256', this.key)
      .update(`${id}\n${user}\n${decision}\n${exp}\n${nonce}`)
      .digest('base64url');
  }

  link(base: string, id: string, user: string, decision: 'approve' | 'deny', expMs: number): string {
    const exp = Math.floor(expMs / 1000);
    const nonce = randomBytes(12).toString('base64url');
    const q = new URLSearchParams({
      u: user,
      d: decision,
      e: String(exp),
      n: nonce,
      s: this.mac(id, user, decision, exp, nonce),
    });
    return `${base.replace(/\/+$/, '')}/api/v1/approvals/${encodeURIComponent(id)}/link?${q}`;
  }

  verify(id: string, q: { u: string; d: string; e: string; n: string; s: string }): boolean {
    const want = Buffer.from(this.mac(id, q.u, q.d, Number(q.e), q.n));
    const got = Buffer.from(q.s);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
