import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * API tokens: random 32-byte secrets shown once; only their SHA-256 is stored, in
 * DIR/tokens.json, which `vantage token create` may change while the server runs (the server
 * re-reads it when its modification time changes).
 */
export type Role = 'ingest' | 'viewer' | 'analyst' | 'admin';
export const ROLES: readonly Role[] = ['ingest', 'viewer', 'analyst', 'admin'];
const RANK: Record<Role, number> = { ingest: 0, viewer: 1, analyst: 2, admin: 3 };

/**
 * Roles rank viewer < analyst < admin. `ingest` is a scope of its own: a token for a sensor,
 * an IDS or a SIEM that posts events, and reads nothing; analysts and admins may post too.
 */
export const roleAllows = (have: Role, need: Role): boolean =>
  need === 'ingest' ? have !== 'viewer' : have !== 'ingest' && RANK[have] >= RANK[need];

export interface TokenEntry {
  id: string;
  name: string;
  role: Role;
  /** hex SHA-256 of the token. */
  hash: string;
  created: string;
  /** The user the token belongs to: it acts as that user, and stops working when the user is disabled. */
  user?: string;
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class TokenStore {
  private entries: TokenEntry[] = [];
  private byHash = new Map<string, TokenEntry>();
  private mtime = -1;
  private checked = 0;

  constructor(private readonly dataDir: string) {}

  get path(): string {
    return join(this.dataDir, 'tokens.json');
  }

  private reload(force = false): void {
    const now = Date.now();
    if (!force && now - this.checked < 1000) return;
    this.checked = now;
    let m: number;
    try {
      m = statSync(this.path).mtimeMs;
    } catch {
      m = 0;
    }
    if (m === this.mtime && !force) return;
    this.mtime = m;
    this.entries =
      m === 0 ? [] : (JSON.parse(readFileSync(this.path, 'utf8')) as { tokens: TokenEntry[] }).tokens;
    this.byHash = new Map(this.entries.map((e) => [e.hash, e]));
  }

  list(): TokenEntry[] {
    this.reload(true);
    return [...this.entries];
  }

  /** The entry for a presented token, or null. */
  verify(token: string): TokenEntry | null {
    this.reload();
    const h = hashToken(token);
    const e = this.byHash.get(h);
    if (!e) return null;
    // Constant-time confirmation of the match found through the map.
    return timingSafeEqual(Buffer.from(e.hash, 'hex'), Buffer.from(h, 'hex')) ? e : null;
  }

  /** Create a token; returns the secret, which is never stored. */
  create(role: Role, name: string, user?: string): { token: string; entry: TokenEntry } {
    this.reload(true);
    const token = `vt_${randomBytes(32).toString('base64url')}`;
    const entry: TokenEntry = {
      id: randomBytes(6).toString('hex'),
      name,
      role,
      hash: hashToken(token),
      created: new Date().toISOString(),
      ...(user ? { user } : {}),
    };
    this.entries.push(entry);
    this.save();
    return { token, entry };
  }

  revoke(id: string): boolean {
    this.reload(true);
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.id !== id);
    if (this.entries.length === before) return false;
    this.save();
    return true;
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ tokens: this.entries }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.reload(true);
  }

  /**
   * First start: when no admin token exists, create one, write it to DIR/admin-token (mode
   * 0600) and return it so the caller prints it once.
   */
  ensureAdmin(user?: string): string | null {
    this.reload(true);
    if (this.entries.some((e) => e.role === 'admin')) return null;
    const { token } = this.create('admin', 'first-start admin', user);
    const file = join(this.dataDir, 'admin-token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return token;
  }

  adminTokenFileExists(): boolean {
    return existsSync(join(this.dataDir, 'admin-token'));
  }
}
