import { type KeyboardEvent, useMemo } from 'react';
import { int } from '../format';
import {
  type EdgeStatus,
  edgePath,
  layoutGroups,
  type PolicyEdge,
  type PolicyGroup,
  pairEdges,
} from '../policy';

const STATUS_COLOR: Record<EdgeStatus, string> = {
  approved: 'var(--ok)',
  rejected: 'var(--danger)',
  pending: 'var(--c3)',
};

/** An SVG node that acts as a button (SVG has no <button>): focusable, Enter and Space work. */
function clickable(f: () => void) {
  return {
    role: 'button',
    tabIndex: 0,
    onClick: f,
    onKeyDown: (e: KeyboardEvent<SVGGElement>) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        f();
      }
    },
  };
}

/**
 * Groups as circles sized by their members, dependencies as arrows coloured by review status,
 * laid out in tiers (callers left of the groups they call). SVG: the browser does the drawing,
 * tests and screen readers can read each node and line.
 */
export function PolicyGraph({
  groups,
  edges,
  selected,
  onSelect,
  label,
}: {
  groups: PolicyGroup[];
  edges: PolicyEdge[];
  selected?: string | null;
  onSelect?: (group: string) => void;
  label: string;
}) {
  const layout = useMemo(() => layoutGroups(groups, edges), [groups, edges]);
  const pairs = useMemo(() => pairEdges(edges), [edges]);
  const byId = new Map(groups.map((g) => [g.id, g]));
  if (groups.length === 0) return <p className="empty">No groups.</p>;
  return (
    <div className="policy-graph">
      <svg
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label={label}
        data-testid="policy-graph"
        style={{ maxHeight: Math.max(240, layout.height) }}
      >
        <defs>
          {(['approved', 'rejected', 'pending'] as const).map((s) => (
            <marker
              key={s}
              id={`arrow-${s}`}
              viewBox="0 0 10 10"
              refX="8"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" fill={STATUS_COLOR[s]} />
            </marker>
          ))}
        </defs>
        {pairs.map((p) => {
          const a = layout.nodes.get(p.src);
          const b = layout.nodes.get(p.dst);
          if (!a || !b) return null;
          const dim = selected && p.src !== selected && p.dst !== selected;
          return (
            <path
              key={`${p.src}>${p.dst}`}
              d={edgePath(a, b)}
              fill="none"
              stroke={STATUS_COLOR[p.status]}
              strokeWidth={1.2 + Math.min(3, Math.log10(1 + p.flows) / 1.5)}
              strokeDasharray={p.status === 'pending' ? '5 4' : undefined}
              markerEnd={`url(#arrow-${p.status})`}
              opacity={dim ? 0.15 : 0.85}
              data-edge={`${p.src}>${p.dst}`}
              data-status={p.status}
            >
              <title>
                {byId.get(p.src)?.name} → {byId.get(p.dst)?.name}: {p.services.join(', ')} ({p.status},{' '}
                {int(p.flows)} flows)
              </title>
            </path>
          );
        })}
        {groups.map((g) => {
          const n = layout.nodes.get(g.id);
          if (!n) return null;
          const size = g.members.length + g.cidrs.length;
          return (
            <g
              key={g.id}
              transform={`translate(${n.x} ${n.y})`}
              className={`pg-node pg-${g.kind}${selected === g.id ? ' pg-selected' : ''}`}
              data-group={g.id}
              data-name={g.name}
              data-size={size}
              {...(onSelect ? clickable(() => onSelect(g.id)) : {})}
            >
              <title>
                {g.name}: {size} {g.kind === 'external' ? 'networks' : 'members'}
                {g.pinned ? ' (pinned)' : ''}
              </title>
              <circle r={n.r} />
              <text y={n.r + 14} textAnchor="middle">
                {g.pinned ? '📌 ' : ''}
                {g.name.length > 30 ? `${g.name.slice(0, 29)}…` : g.name}
              </text>
              <text y={4} textAnchor="middle" className="pg-count">
                {size}
              </text>
            </g>
          );
        })}
      </svg>
      <p className="hint pg-legend">
        <span style={{ color: STATUS_COLOR.approved }}>━ approved</span>{' '}
        <span style={{ color: STATUS_COLOR.pending }}>╍ pending</span>{' '}
        <span style={{ color: STATUS_COLOR.rejected }}>━ rejected</span> · circles sized by members; callers
        on the left, external networks on the right.
      </p>
    </div>
  );
}
