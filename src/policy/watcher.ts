import type { AlertEmitter, AnyRecord, RecordWatcher } from '../common/alerts.js';
import { type Columnar, columnarToRecords } from '../store/columnar.js';
import { ComplianceChecker } from './compliance.js';
import type { PolicyDoc } from './model.js';

/**
 * The compliance watcher of a running product: checks against the active policy, swapped
 * whole when a new version is approved (the record path never sees half a policy).
 */
export class PolicyWatcher implements RecordWatcher {
  readonly name = 'policy';
  private checker: ComplianceChecker | null = null;

  constructor(
    private readonly emitter: AlertEmitter,
    policy: PolicyDoc | null = null,
  ) {
    this.set(policy);
  }

  set(policy: PolicyDoc | null): void {
    this.checker = policy ? new ComplianceChecker(policy, this.emitter) : null;
  }

  get active(): ComplianceChecker | null {
    return this.checker;
  }

  onRecord(rec: AnyRecord): void {
    this.checker?.onRecord(rec);
  }

  /** Without an active policy a batch costs nothing (no record is made to be ignored). */
  onColumns(type: string, c: Columnar): void {
    const k = this.checker;
    if (k === null || (type !== 'flow' && type !== 'exported_flow')) return;
    for (const r of columnarToRecords(c, type)) k.onRecord(r as AnyRecord);
  }

  finish(): void {}
}
