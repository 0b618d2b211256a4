import { useEffect } from 'react';
import { parsePivot, pivotTarget } from '../alerts';
import { ErrorBox } from '../components/Status';
import { href } from '../router';

/**
 * `#/pivot?ip=…&ts=…` and `#/pivot?community_id=…&ts=…`: cross-launch from a SIEM or another
 * console. The pivot replaces itself in the history, so Back returns to where the user came from.
 */
export function PivotPage({ params }: { params: URLSearchParams }) {
  const pv = parsePivot(params);
  useEffect(() => {
    if (pv.kind === 'error') return;
    const { path, params: p } = pivotTarget(pv);
    // A link without ts or t keeps the range already on screen (href carries it).
    history.replaceState(null, '', href(path, p));
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }, [pv]);
  return (
    <div className="page">
      <h1>Pivot</h1>
      {pv.kind === 'error' ? <ErrorBox error={pv.message} /> : <p className="muted">Opening…</p>}
    </div>
  );
}
