import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { BarList } from './BarList';

afterEach(cleanup);

describe('BarList', () => {
  const items = [
    { key: '10.0.0.1', bytes: 2048, packets: 10, flows: 2 },
    { key: '10.0.0.2', bytes: 1024, packets: 5, flows: 1 },
  ];

  it('draws one linked bar per item, widest first, with raw values for tracing', () => {
    render(
      <BarList
        items={items}
        by="bytes"
        label="Top talkers"
        hrefFor={(i) => `#/records/flow?filter=${String(i.key)}`}
      />,
    );
    const list = screen.getByRole('list', { name: 'Top talkers' });
    const rows = list.querySelectorAll('li');
    expect(rows).toHaveLength(2);
    expect(rows[0]!.getAttribute('data-value')).toBe('2048');
    const link = screen.getByRole('link', { name: /10\.0\.0\.1/ });
    expect(link.getAttribute('href')).toBe('#/records/flow?filter=10.0.0.1');
    expect(link.textContent).toContain('2.0 KiB');
    const fills = list.querySelectorAll<HTMLElement>('.bar-fill');
    expect(fills[0]!.style.width).toBe('100%');
    expect(fills[1]!.style.width).toBe('50%');
  });

  it('says so in words when there is nothing to show', () => {
    render(<BarList items={[]} by="flows" label="Empty" />);
    expect(screen.getByText('No data in this time range.')).toBeTruthy();
  });
});
