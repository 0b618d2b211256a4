import { appendFileSync } from 'node:fs';

export interface AuditEvent {
  action: string;
  actor: string | null;
  details: Record<string, unknown>;
}

export type AuditLog = (event: AuditEvent) => void;

/**
 * The audit log: one JSON line per event (who did what, when), appended synchronously so an
 * event the API acted on is on disk before the response completes.
 */
export function createAuditLog(path: string): AuditLog {
  return (e) => {
    appendFileSync(path, `${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`, { mode: 0o600 });
  };
}
