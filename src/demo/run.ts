/**
 * The first start of `vantage start`: generate the demo network and feed it through the same
 * paths a deployment uses (the sensor and its collector, the detectors, the intel matcher, the
 * policy checker, the events component), in the order a deployment would have lived it:
 * intel feed subscribed, traffic, a communication policy learned from the first forty minutes
 * and approved, more traffic checked against it, Suricata's alerts arriving.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { IngestFormat, IngestResult } from '../events/index.js';
import type { Intel } from '../intel/intel.js';
import { learnFromStore } from '../policy/learn-store.js';
import type { PolicyRepo } from '../policy/repo.js';
import type { PolicyWatcher } from '../policy/watcher.js';
import type { IngestSummary } from '../store/ingest.js';
import type { RecordStore } from '../store/types.js';
import { type DemoPlan, generateDemo } from './generate.js';

/** The approver written on the demo's policy: a real deployment has a person approve it. */
export const DEMO_APPROVER = 'demo setup';

export interface DemoDeps {
  dataDir: string;
  store: RecordStore;
  /** The product's capture ingest (sensor, recorder, watchers), with flow export decoding. */
  ingest(files: string[], names: string[], opts: { collect: boolean; batch: number }): Promise<IngestSummary>;
  intel: Pick<Intel, 'addFeed'>;
  events: { ingest(format: IngestFormat, body: string): IngestResult };
  policy: { repo: PolicyRepo; watcher: PolicyWatcher };
  log: Logger;
}

export interface DemoResult {
  plan: DemoPlan;
  ingested: IngestSummary[];
  policyVersion: number;
  events: IngestResult;
  elapsed_s: number;
}

export async function loadDemo(deps: DemoDeps, now = Date.now()): Promise<DemoResult> {
  const t0 = performance.now();
  // The feed file stays: the intel component pulls it again at every start.
  const dir = join(deps.dataDir, 'demo');
  const plan = generateDemo(dir, now - 60_000);
  deps.log.info('demo: generated a small enterprise network', {
    from: new Date(plan.start).toISOString(),
    to: new Date(plan.end).toISOString(),
    packets: plan.packets,
  });
  await deps.intel.addFeed({
    name: 'demo-feed',
    format: 'csv',
    file: plan.intelFeed,
    mapping: {
      value: 'value',
      type: 'type',
      confidence: 'confidence',
      severity: 'severity',
      description: 'description',
    },
  });
  // Records reach the watchers one batch per type at a time, and the detectors' clock is the
  // latest time they saw: with the default 50,000-record batches a whole part's DNS would move
  // the clock past the hour at which the beacon detector scores, before any flow of that hour
  // arrived. Batches of a few minutes of traffic keep every type's records close in time.
  const opts = { collect: true, batch: 1000 };
  const ingested: IngestSummary[] = [];
  const [first, second] = plan.parts;
  ingested.push(await deps.ingest([first], ['demo (before the policy)'], opts));

  // The policy is learned from the quiet first forty minutes, before any incident, and
  // approved by the setup (a person does this in a deployment) before the rest is checked.
  const proposal = await learnFromStore(
    deps.store,
    { after: plan.start * 1000, before: plan.learnUntil * 1000 },
    { createdBy: 'demo generator' },
  );
  deps.policy.repo.saveProposal(proposal);
  deps.policy.repo.review(
    proposal.id,
    proposal.edges.map((e) => ({ edge: e.id, status: 'approved' as const })),
    DEMO_APPROVER,
  );
  const approved = deps.policy.repo.approve(proposal.id, DEMO_APPROVER);
  deps.policy.watcher.set(approved);

  ingested.push(await deps.ingest([second], ['demo (after the policy)'], opts));
  const events = deps.events.ingest('eve', plan.eve);
  // The packets are in the packet store now; the captures themselves are not needed.
  for (const f of plan.parts) rmSync(f, { force: true });
  const elapsed = Math.round(performance.now() - t0) / 1000;
  deps.log.info('demo: loaded', {
    records: ingested.reduce((n, s) => n + Object.values(s.records).reduce((a, b) => a + b, 0), 0),
    policy_version: approved.version,
    events: events.accepted,
    elapsed_s: elapsed,
  });
  return { plan, ingested, policyVersion: approved.version, events, elapsed_s: elapsed };
}
