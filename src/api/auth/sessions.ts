import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Console sessions. The cookie carries a random 256-bit id; only its SHA-256 is kept, so a
 * leaked copy of the server's memory or a log line does not hand out live sessions. Each session
 * has a CSRF token the console sends back in a header on every change. Sessions end when idle,
 * at an absolute limit, at sign-out, and when their user is disabled. They live in memory: a
 * restart signs everyone out.
 */
export interface Session {
  /** hex SHA-256 of the cookie value. */
  hash: string;
  user: string;
  csrf: string;
  created: number;
  lastSeen: number;
  /** How the user signed in: password or oidc. */
  method: 'password' | 'oidc';
}

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
  max: number;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export class SessionStore {
  private readonly byHash = new Map<string, Session>();
  counters = { created: 0, ended: 0, expired: 0, evicted: 0 };

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.byHash.size;
  }

  create(user: string, method: Session['method'], now = Date.now()): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const session: Session = {
      hash: sha(id),
      user,
      csrf: randomBytes(32).toString('base64url'),
      created: now,
      lastSeen: now,
      method,
    };
    while (this.byHash.size >= this.limits.max) {
      // Map order is creation order: the oldest session goes first.
      const oldest = this.byHash.keys().next().value as string;
      this.byHash.delete(oldest);
      this.counters.evicted++;
    }
    this.byHash.set(session.hash, session);
    this.counters.created++;
    return { id, session };
  }

  /** The live session for a cookie value, or null (unknown, idle too long, or past its limit). */
  get(id: string, now = Date.now()): Session | null {
    if (id.length !== 43) return null;
    const s = this.byHash.get(sha(id));
    if (!s) return null;
    if (this.expired(s, now)) {
      this.byHash.delete(s.hash);
      this.counters.expired++;
      return null;
    }
    return s;
  }

  touch(s: Session, now = Date.now()): void {
    s.lastSeen = now;
  }

  /** When the session ends if unused from now on, ms since the epoch. */
  expiresAt(s: Session): number {
    return Math.min(s.lastSeen + this.limits.idleMs, s.created + this.limits.absoluteMs);
  }

  end(s: Session): void {
    if (this.byHash.delete(s.hash)) this.counters.ended++;
  }

  /** End every session of a user (disabled, password reset); returns how many. */
  endUser(user: string): number {
    let n = 0;
    const key = user.toLowerCase();
    for (const s of this.byHash.values()) {
      if (s.user.toLowerCase() !== key) continue;
      this.byHash.delete(s.hash);
      n++;
    }
    this.counters.ended += n;
    return n;
  }

  sweep(now = Date.now()): void {
    for (const s of this.byHash.values()) {
      if (!this.expired(s, now)) continue;
      this.byHash.delete(s.hash);
      this.counters.expired++;
    }
  }

  private expired(s: Session, now: number): boolean {
    return now >= this.expiresAt(s);
  }
}

/** Constant-time check of a presented CSRF token against the session's. */
export function csrfMatches(s: Session, presented: string | undefined): boolean {
  if (typeof presented !== 'string' || presented.length !== s.csrf.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(s.csrf));
}
