import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/**
 * The response audit log: append-only JSON lines, each carrying the SHA-256 of the previous
 * line's hash and its own content, so an edited, removed or reordered line breaks the chain at
 * that line. Lines are appended synchronously: a decision is on disk before it is acted on.
 */
export interface AuditEntry {
  seq: number;
  ts: string;
  /** trigger, step.start, step.done, step.failed, approval.request, approval.vote, run.end, release... */
  kind: string;
  run_id: string | null;
  alert_id: string | null;
  actor: string | null;
  details: Record<string, unknown>;
  prev: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

function digest(e: Omit<AuditEntry, 'hash'>): string {
  const { seq, ts, kind, run_id, alert_id, actor, details, prev } = e;
  return createHash('sha256')
    .update(JSON.stringify([seq, ts, kind, run_id, alert_id, actor, details, prev]))
    .digest('hex');
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  /** First line (1-based) where the chain breaks. */
  brokenAt?: number;
  reason?: string;
}

export function verifyChain(text: string): ChainCheck {
  const lines = text.split('\n').filter((l) => l.length > 0);
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    let e: AuditEntry;
    try {
      e = JSON.parse(lines[i]!) as AuditEntry;
    } catch {
      return { ok: false, entries: lines.length, brokenAt: i + 1, reason: 'not JSON' };
    }
    if (e.prev !== prev)
      return { ok: false, entries: lines.length, brokenAt: i + 1, reason: 'prev does not match' };
    if (e.seq !== i + 1) return { ok: false, entries: lines.length, brokenAt: i + 1, reason: 'sequence gap' };
    if (digest(e) !== e.hash)
      return { ok: false, entries: lines.length, brokenAt: i + 1, reason: 'hash does not match' };
    prev = e.hash;
  }
  return { ok: true, entries: lines.length };
}

export class ResponseAudit {
  private prev = GENESIS;
  private seq = 0;

  constructor(readonly path: string) {
    if (existsSync(path)) {
      // A line cut by a crash mid-write is the only damage a kill can do; it is dropped on
      // read and the chain continues from the last whole line.
      const lines = readFileSync(path, 'utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        try {
          const e = JSON.parse(lines[i]!) as AuditEntry;
          this.prev = e.hash;
          this.seq = e.seq;
          break;
        } catch {}
      }
    }
  }

  append(
    kind: string,
    x: {
      run_id?: string | null;
      alert_id?: string | null;
      actor?: string | null;
      details?: Record<string, unknown>;
    },
  ): AuditEntry {
    const body = {
      seq: this.seq + 1,
      ts: new Date().toISOString(),
      kind,
      run_id: x.run_id ?? null,
      alert_id: x.alert_id ?? null,
      actor: x.actor ?? null,
      details: x.details ?? {},
      prev: this.prev,
    };
    const e: AuditEntry = { ...body, hash: digest(body) };
    appendFileSync(this.path, `${JSON.stringify(e)}\n`, { mode: 0o600 });
    this.seq = e.seq;
    this.prev = e.hash;
    return e;
  }

  text(): string {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
  }

  entries(f: { run_id?: string; alert_id?: string } = {}): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const l of this.text().split('\n')) {
      if (!l) continue;
      try {
        const e = JSON.parse(l) as AuditEntry;
        if (f.run_id && e.run_id !== f.run_id) continue;
        if (f.alert_id && e.alert_id !== f.alert_id) continue;
        out.push(e);
      } catch {}
    }
    return out;
  }

  verify(): ChainCheck {
    return verifyChain(this.text());
  }
}
