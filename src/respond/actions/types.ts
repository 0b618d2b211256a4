import type { AdapterFamily } from '../playbook.js';

/**
 * An action adapter: one way a response acts on the world (a gateway's nftables, a REST
 * enforcement API, ServiceNow, SMTP, a chat webhook...). Every adapter is driven the same way
 * by the engine and passes one conformance suite (test/respond/conformance.test.ts).
 */
export interface ActionAdapter {
  readonly name: string;
  readonly kind: AdapterKind;
  readonly family: AdapterFamily;
  /** What `apply` would send, rendered, with secrets masked; does nothing (dry run). */
  plan(req: ActionRequest): PlannedCall[];
  /**
   * Do it. Idempotent by `req.key`: a retry after a crash or a timeout finds what the first
   * attempt did (the rule with this key, the incident with this correlation id) instead of
   * doing it twice. Resolves with what the undo and later steps need.
   */
  apply(req: ActionRequest): Promise<Record<string, unknown>>;
  /** Take it back (release an isolation); idempotent too. Absent where undo makes no sense. */
  undo?(req: ActionRequest, applied: Record<string, unknown>): Promise<void>;
  /** Whether the effect of `req.key` is in place now (isolation adapters). */
  inEffect?(req: ActionRequest): Promise<boolean>;
}

export interface ActionRequest {
  /** Stable per run and step: `<run id>.<step id>`. */
  key: string;
  params: Record<string, unknown>;
}

export interface PlannedCall {
  adapter: string;
  kind: AdapterKind;
  /** One line a person reads. */
  summary: string;
  /** The rendered request: HTTP method/url/headers/body, a command line, a mail. */
  request: Record<string, unknown>;
}

export const ADAPTER_KINDS = [
  'nftables',
  'broker',
  'rest',
  'bgp',
  'servicenow',
  'ticket-webhook',
  'email',
  'webhook',
  'slack',
  'teams',
] as const;
export type AdapterKind = (typeof ADAPTER_KINDS)[number];

export const FAMILY_OF: Record<AdapterKind, AdapterFamily> = {
  nftables: 'isolate',
  broker: 'isolate',
  rest: 'isolate',
  bgp: 'isolate',
  servicenow: 'ticket',
  'ticket-webhook': 'ticket',
  email: 'notify',
  webhook: 'notify',
  slack: 'notify',
  teams: 'notify',
};

/** Sent with notifications that ask a person to decide. */
export interface ApprovalLinks {
  approve: string;
  deny: string;
  console: string;
}
