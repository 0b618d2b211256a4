import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorBox, Panel } from './Status';

afterEach(cleanup);

describe('Panel and ErrorBox', () => {
  it('marks a loading panel busy and shows a spinner without dropping its content', () => {
    render(
      <Panel title="Top" loading>
        <p>old rows</p>
      </Panel>,
    );
    const region = screen.getByText('old rows').closest('section')!;
    expect(region.getAttribute('aria-busy')).toBe('true');
    expect(screen.getByRole('status', { name: 'Loading' })).toBeTruthy();
  });

  it('announces an error in plain words and offers a retry', () => {
    const retry = vi.fn();
    render(<ErrorBox error="The server did not answer." onRetry={retry} />);
    expect(screen.getByRole('alert').textContent).toContain('The server did not answer.');
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(retry).toHaveBeenCalledOnce();
  });
});
