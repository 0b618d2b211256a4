import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Login } from './Login';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const refuse = (detail: string, status = 401) =>
  vi.fn(async () => new Response(JSON.stringify({ status, detail }), { status }));

describe('Login', () => {
  it('asks for a user name and password before calling the server', () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    render(<Login onLogin={vi.fn()} initialError={null} />);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert').textContent).toContain('Enter your user name and password.');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('posts the password sign-in and shows why it was refused', async () => {
    const fetch = refuse('user name or password not accepted');
    vi.stubGlobal('fetch', fetch);
    const onLogin = vi.fn();
    render(<Login onLogin={onLogin} initialError={null} />);
    fireEvent.change(screen.getByLabelText('User name'), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toContain('user name or password not accepted'),
    );
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/session');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ name: 'alice', password: 'wrong password' });
    expect(onLogin).not.toHaveBeenCalled();
  });

  it('offers SSO only when the server says it is configured', () => {
    render(<Login onLogin={vi.fn()} initialError={null} />);
    expect(screen.queryByTestId('sso')).toBeNull();
    cleanup();
    render(
      <Login
        onLogin={vi.fn()}
        initialError={null}
        sso={{ label: 'Sign in with Acme', url: '/api/v1/session/oidc' }}
      />,
    );
    expect(screen.getByRole('link', { name: 'Sign in with Acme' }).getAttribute('href')).toBe(
      '/api/v1/session/oidc',
    );
  });

  it('keeps token sign-in: asks for a token first', () => {
    render(<Login onLogin={vi.fn()} initialError={null} />);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in with an API token instead' }));
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
    fireEvent.click(screen.getByRole('button', { name: 'Sign in with an API token instead' }));
    fireEvent.change(screen.getByLabelText('Token'), { target: { value: 'vt_bad-token' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('token not recognised'));
    expect(onLogin).not.toHaveBeenCalled();
  });
});
