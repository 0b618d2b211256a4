import { qs, type Series, type TopItem } from './api';
import { useJson, useTime } from './state';
import { stepParam } from './time';

export function useRangeParams(): { after?: string; before?: string } {
  const { resolved } = useTime();
  return { after: resolved.after, before: resolved.before } as { after?: string; before?: string };
}

export function useKpi(metric: string, filter = '', groupBy = '') {
  const { resolved, tick } = useTime();
  return useJson<Series>(
    `/api/v1/kpis${qs({
      metric,
      step: stepParam(resolved.step),
      after: resolved.after,
      before: resolved.before,
      filter,
      group_by: groupBy,
      groups: groupBy ? 6 : undefined,
    })}`,
    tick,
  );
}

export function useTop(
  dim: string,
  by: 'bytes' | 'packets' | 'flows',
  filter = '',
  limit = 10,
  type = 'flow',
) {
  const { resolved, tick } = useTime();
  return useJson<{ items: TopItem[] }>(
    `/api/v1/top${qs({ dim, by, limit, type, after: resolved.after, before: resolved.before, filter })}`,
    tick,
  );
}

/** Totals of flows, bytes and packets in the range: the sum over every protocol. */
export function useTotals(filter = '') {
  const top = useTop('proto', 'bytes', filter, 1000);
  const items = top.data?.items;
  const totals = items
    ? items.reduce(
        (a, i) => ({ bytes: a.bytes + i.bytes, packets: a.packets + i.packets, flows: a.flows + i.flows }),
        {
          bytes: 0,
          packets: 0,
          flows: 0,
        },
      )
    : undefined;
  return { ...top, totals };
}

/** A flow filter that matches one address on either side. */
export const hostFilter = (ip: string) => `client_ip = ${ip} or server_ip = ${ip}`;

/** Quote a value for the filter grammar when it is not a bare word, number or address. */
export function filterValue(v: unknown): string {
  const s = String(v);
  if (typeof v === 'number' || /^[0-9A-Fa-f.:/]+$/.test(s)) return s;
  return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

export function keyFilter(dim: string, key: unknown): string {
  return key === null || key === undefined ? `not ${dim} exists` : `${dim} = ${filterValue(key)}`;
}
