import type { TopItem } from '../api';
import { bytes, int } from '../format';
import { Empty } from './Status';

export type TopBy = 'bytes' | 'packets' | 'flows';

export function formatBy(by: TopBy, v: number): string {
  return by === 'bytes' ? bytes(v) : int(v);
}

/**
 * Ranked values as horizontal bars. Each bar is a link to what is under it (the flows), so
 * every number can be traced.
 */
export function BarList({
  items,
  by,
  label,
  keyLabel = (k) => (k === null ? '(none)' : String(k)),
  hrefFor,
  testId,
}: {
  items: TopItem[];
  by: TopBy;
  label: string;
  keyLabel?: (k: TopItem['key']) => string;
  hrefFor?: (item: TopItem) => string;
  testId?: string;
}) {
  if (items.length === 0) return <Empty>No data in this time range.</Empty>;
  const max = Math.max(...items.map((i) => i[by]), 1);
  return (
    <ol className="bars" aria-label={label} data-testid={testId}>
      {items.map((it) => {
        const v = it[by];
        const name = keyLabel(it.key);
        const content = (
          <>
            <span className="bar-fill" style={{ width: `${(v / max) * 100}%` }} aria-hidden="true" />
            <span className="bar-key">{name}</span>
            <span className="bar-val">{formatBy(by, v)}</span>
          </>
        );
        return (
          <li key={String(it.key)} data-key={String(it.key)} data-value={v}>
            {hrefFor ? (
              <a className="bar" href={hrefFor(it)} title={`${name}: ${formatBy(by, v)}; show the flows`}>
                {content}
              </a>
            ) : (
              <div className="bar">{content}</div>
            )}
          </li>
        );
      })}
    </ol>
  );
}
