import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertRecord } from '../schema/alert.js';
import type { PlannedCall } from './actions/types.js';

export const RUN_STATUSES = ['running', 'waiting', 'succeeded', 'failed', 'denied', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'denied', 'cancelled']);

export interface Vote {
  who: string;
  role: string;
  decision: 'approve' | 'deny';
  at: string;
  /** How it came: the signed link, the API or the console, from which address and agent. */
  via: 'link' | 'api';
  ip: string;
  user_agent: string;
}

export interface ApprovalState {
  id: string;
  roles: string[];
  users: string[];
  quorum: number;
  expires_at: string;
  on_timeout: 'deny' | 'approve';
  message: string;
  votes: Vote[];
  /** Nonces of links already used: a link works once. */
  used: string[];
  outcome: 'approved' | 'denied' | 'expired' | null;
  /** People who may not decide: the alert's owner, whoever started the run, the host's user. */
  excluded: string[];
}

export interface StepState {
  id: string;
  type: string;
  status: 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'skipped';
  attempts: number;
  started: string | null;
  ended: string | null;
  result: Record<string, unknown> | null;
  error: string | null;
  /** What each adapter was asked (rendered), for the timeline. */
  calls: PlannedCall[];
  wake_at: string | null;
  approval: ApprovalState | null;
  /** Undo done (release). */
  undone: boolean;
}

export interface Run {
  id: string;
  playbook: string;
  version: number;
  alert_id: string;
  alert: AlertRecord;
  triggered_by: string | null;
  status: RunStatus;
  created: string;
  updated: string;
  /** Index of the step to run next. */
  cursor: number;
  steps: StepState[];
  error: string | null;
  released: boolean;
}

/**
 * Runs on disk, one JSON file each, replaced atomically (write then rename) after every state
 * change: a kill at any moment leaves the previous or the next state, never half of one.
 */
export class RunFiles {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }
  has(id: string): boolean {
    return existsSync(this.path(id));
  }
  save(r: Run): void {
    r.updated = new Date().toISOString();
    const p = this.path(r.id);
    writeFileSync(`${p}.tmp`, JSON.stringify(r));
    renameSync(`${p}.tmp`, p);
  }
  load(id: string): Run | null {
    if (!/^[a-z0-9-]{1,80}$/.test(id)) return null;
    try {
      return JSON.parse(readFileSync(this.path(id), 'utf8')) as Run;
    } catch {
      return null;
    }
  }
  all(): Run[] {
    return readdirSync(this.dir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => this.load(n.slice(0, -5)))
      .filter((r): r is Run => r !== null);
  }
}
