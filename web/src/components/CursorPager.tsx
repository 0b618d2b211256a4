import type { Dispatch, SetStateAction } from 'react';

/**
 * Paging over a record list with the API's cursors: the cursors of the pages before this one
 * are kept, so "previous" needs no cursor of its own.
 */
export function CursorPager({
  cursors,
  setCursors,
  next,
  previousLabel,
  nextLabel,
}: {
  cursors: string[];
  setCursors: Dispatch<SetStateAction<string[]>>;
  next: string | null | undefined;
  previousLabel: string;
  nextLabel: string;
}) {
  return (
    <div className="pager">
      <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
        {previousLabel}
      </button>
      <span className="muted">Page {cursors.length + 1}</span>
      <button type="button" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>
        {nextLabel}
      </button>
    </div>
  );
}
