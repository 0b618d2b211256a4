/** Shapes of the response API (/api/v1/playbooks, /runs, /approvals) the console reads. */

export interface PlaybookRow {
  name: string;
  enabled: boolean;
  version: number;
  versions: number[];
  trigger: string;
  description: string;
  steps: number;
}

export interface PlaybookIssue {
  key: string;
  line: number | null;
  message: string;
}

export interface Vote {
  who: string;
  role: string;
  decision: 'approve' | 'deny';
  at: string;
  via: string;
  ip: string;
  user_agent: string;
}

export interface Approval {
  id: string;
  roles: string[];
  users: string[];
  quorum: number;
  expires_at: string;
  on_timeout: string;
  message: string;
  votes: Vote[];
  outcome: string | null;
  excluded: string[];
}

export interface StepState {
  id: string;
  type: string;
  status: string;
  attempts: number;
  started: string | null;
  ended: string | null;
  result: Record<string, unknown> | null;
  error: string | null;
  calls: { adapter: string; kind: string; summary: string; request: unknown }[];
  wake_at: string | null;
  approval: Approval | null;
  undone: boolean;
}

export interface RunRow {
  id: string;
  playbook: string;
  version: number;
  alert_id: string;
  title: string;
  status: string;
  created: string;
  updated: string;
  error: string | null;
  released: boolean;
  triggered_by: string | null;
  steps: StepState[];
}

export interface AuditEntry {
  seq: number;
  ts: string;
  kind: string;
  actor: string | null;
  details: Record<string, unknown>;
  hash: string;
}

export interface PendingApproval extends Approval {
  run_id: string;
  playbook: string;
  alert_id: string;
  title: string;
  severity: number;
  src_ip: string | null;
  dst_ip: string | null;
}

/** Issues as lines an author reads beside the editor: "line 6 · steps[0].colour: unknown key". */
export function issueLines(issues: readonly PlaybookIssue[]): string[] {
  return issues.map((i) => `${i.line !== null ? `line ${i.line} · ` : ''}${i.key}: ${i.message}`);
}

export const STATUS_CLASS: Record<string, string> = {
  running: 'health-unknown',
  waiting: 'health-unknown',
  succeeded: 'health-ok',
  failed: 'health-failing',
  denied: 'health-failing',
  cancelled: 'health-failing',
};
