import { href } from '../router';
import { AlertTable } from './AlertTable';
import { SightingTable } from './Sightings';
import { Panel } from './Status';
import '../intel.css';

/**
 * Threat-intel hits of one host or one flow: the intel alerts naming it and every sighting
 * behind them (an alert folds repeated sightings of one indicator and host into one).
 */
export function IntelHits({
  sightingFilter,
  alertFilter,
  testId,
  allTime = false,
}: {
  sightingFilter: string;
  alertFilter: string;
  testId: string;
  /** A flow's hits are shown whatever the time range: the flow itself is not in it. */
  allTime?: boolean;
}) {
  return (
    <Panel
      title="Intel hits"
      testId={testId}
      actions={<a href={href('/intel')}>Threat intel</a>}
      className="intel-hits"
    >
      <h3>Intel alerts</h3>
      <AlertTable
        filter={`category = "intel" and (${alertFilter})`}
        pageSize={10}
        testId={`${testId}-alerts`}
        compact
      />
      <h3>Sightings</h3>
      <SightingTable filter={sightingFilter} limit={20} testId={`${testId}-sightings`} allTime={allTime} />
    </Panel>
  );
}
