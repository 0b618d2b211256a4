import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Login } from './Login';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('Login', () => {
  it('asks for a token before calling the server', () => {
    render(<Login onLogin={vi.fn()} initialError={null} />);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert').textContent).toContain('Paste a token first.');
  });

  it("shows the server's reason when the token is refused", async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(
        async () =>
          new Response(JSON.stringify({ error: { status: 401, message: 'token not recognised' } }), {
            status: 401,
          }),
      ),
    );
    const onLogin = vi.fn();
    render(<Login onLogin={onLogin} initialError={null} />);
    fireEvent.change(screen.getByLabelText('Token'), { target: { value: 'vt_bad-token' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('token not recognised'));
    expect(onLogin).not.toHaveBeenCalled();
  });
});
