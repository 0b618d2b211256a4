import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLES, type Role, roleAllows } from '../auth.js';

/**
 * User accounts, in DIR/users.json (mode 0600, replaced atomically on every change). A user has
 * one or more roles (the roles tokens have), a password hash (null for users who sign in through
 * the organisation's identity provider), a disabled flag and the times of creation and last sign-in.
 */
export interface UserEntry {
  name: string;
  roles: Role[];
  /** scrypt hash with its parameters (see password.ts), or null when there is no local password. */
  password: string | null;
  disabled: boolean;
  /** Where the account came from: made by an admin, or by a first OIDC sign-in. */
  source: 'local' | 'oidc';
  created: string;
  last_login: string | null;
}

/** What the API shows of a user (never the hash). */
export type UserView = Omit<UserEntry, 'password'> & { has_password: boolean };

export const USER_NAME = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
const NAME_RE = new RegExp(USER_NAME);
export const validUserName = (s: string): boolean => NAME_RE.test(s);

const RANK: Role[] = ['admin', 'analyst', 'viewer', 'ingest'];
/** The one role that describes a user best (the highest), for places that show one. */
export const topRole = (roles: readonly Role[]): Role => RANK.find((r) => roles.includes(r)) ?? 'viewer';
export const rolesAllow = (roles: readonly Role[], need: Role): boolean =>
  roles.some((r) => roleAllows(r, need));
export const normaliseRoles = (roles: readonly Role[]): Role[] => ROLES.filter((r) => roles.includes(r));

export const viewOf = ({ password, ...u }: UserEntry): UserView => ({
  ...u,
  has_password: password !== null,
});

export class UserStore {
  private users = new Map<string, UserEntry>();

  constructor(private readonly dataDir: string) {
    this.load();
  }

  get path(): string {
    return join(this.dataDir, 'users.json');
  }

  /** Re-read the file (the CLI may have changed it). */
  load(): void {
    if (!existsSync(this.path)) {
      this.users = new Map();
      return;
    }
    const doc = JSON.parse(readFileSync(this.path, 'utf8')) as { users: UserEntry[] };
    this.users = new Map(doc.users.map((u) => [u.name.toLowerCase(), u]));
  }

  /** Names are matched case-insensitively so "Alice" and "alice" are one person. */
  get(name: string): UserEntry | undefined {
    return this.users.get(name.toLowerCase());
  }

  list(): UserEntry[] {
    return [...this.users.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get size(): number {
    return this.users.size;
  }

  add(u: UserEntry): void {
    if (this.get(u.name)) throw new Error(`user '${u.name}' exists`);
    this.users.set(u.name.toLowerCase(), u);
    this.save();
  }

  /** Apply `change` to a user and save; returns the user, or undefined when there is none. */
  update(name: string, change: (u: UserEntry) => void): UserEntry | undefined {
    const u = this.get(name);
    if (!u) return undefined;
    change(u);
    this.save();
    return u;
  }

  touchLogin(name: string, when: string): void {
    this.update(name, (u) => {
      u.last_login = when;
    });
  }

  save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ users: this.list() }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
