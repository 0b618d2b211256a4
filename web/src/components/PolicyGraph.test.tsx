import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PolicyEdge, PolicyGroup } from '../policy';
import { PolicyGraph } from './PolicyGraph';

afterEach(cleanup);

const g = (id: string, members: number, kind: PolicyGroup['kind'] = 'internal'): PolicyGroup => ({
  id,
  name: `${id} servers`,
  kind,
  members: Array.from({ length: members }, (_, i) => `10.0.0.${i}`),
  cidrs: [],
  pinned: id === 'db',
});
const e = (src: string, dst: string, port: number, status: PolicyEdge['status']): PolicyEdge => ({
  id: `${src}>${dst}:6/${port}`,
  src,
  dst,
  proto: 6,
  port,
  flows: 5,
  bytes: 500,
  first_seen: '',
  last_seen: '',
  days: 1,
  stable: true,
  status,
});

describe('PolicyGraph', () => {
  const groups = [g('web', 4), g('app', 3), g('db', 2)];
  const edges = [
    e('web', 'app', 8080, 'approved'),
    e('app', 'db', 5432, 'approved'),
    e('app', 'db', 6432, 'pending'),
    e('web', 'db', 5432, 'rejected'),
  ];

  it('draws a node per group and one line per pair, coloured by the least reviewed status', () => {
    render(<PolicyGraph groups={groups} edges={edges} label="Three tiers" />);
    const svg = screen.getByRole('img', { name: 'Three tiers' });
    expect([...svg.querySelectorAll('[data-group]')].map((n) => n.getAttribute('data-size'))).toEqual([
      '4',
      '3',
      '2',
    ]);
    const lines = Object.fromEntries(
      [...svg.querySelectorAll('path[data-edge]')].map((p) => [
        p.getAttribute('data-edge'),
        p.getAttribute('data-status'),
      ]),
    );
    expect(lines).toEqual({ 'web>app': 'approved', 'app>db': 'pending', 'web>db': 'rejected' });
    expect(svg.querySelector('[data-group=db] text')?.textContent).toBe('📌 db servers');
    // Not clickable without a handler.
    expect(screen.queryAllByRole('button')).toHaveLength(0);
  });

  it('selects a group by click or keyboard and dims the lines that do not touch it', () => {
    const onSelect = vi.fn();
    const { rerender } = render(
      <PolicyGraph groups={groups} edges={edges} label="g" onSelect={onSelect} selected={null} />,
    );
    const db = screen.getByRole('button', { name: /db servers/ });
    fireEvent.click(db);
    fireEvent.keyDown(screen.getByRole('button', { name: /web servers/ }), { key: 'Enter' });
    expect(onSelect.mock.calls).toEqual([['db'], ['web']]);
    rerender(<PolicyGraph groups={groups} edges={edges} label="g" onSelect={onSelect} selected="db" />);
    const op = (pair: string) => document.querySelector(`path[data-edge="${pair}"]`)?.getAttribute('opacity');
    expect(op('web>app')).toBe('0.15');
    expect(op('app>db')).toBe('0.85');
  });

  it('says when there is nothing to draw', () => {
    render(<PolicyGraph groups={[]} edges={[]} label="empty" />);
    expect(screen.getByText('No groups.')).toBeTruthy();
  });
});
