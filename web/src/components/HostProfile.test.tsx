import { cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { HostNamesView, type HostOs, HostOsView } from './HostProfile';

afterEach(cleanup);

const os: HostOs = {
  name: 'Windows 10/11',
  family: 'windows',
  confidence: 99,
  agreeing: ['dhcp', 'http', 'syn'],
  conflicting: [],
  evidence: [
    {
      source: 'dhcp',
      value: 'Windows 10/11',
      family: 'windows',
      confidence: 98,
      evidence: 'option 55 1,3,6,15,31,33,43,44,46,47,119,121,249,252; option 60 "MSFT 5.0"',
      mac: '02:00:00:00:02:01',
      first: '2023-11-14T22:13:22.750000000Z',
      last: '2023-11-14T22:13:23.250000000Z',
      observations: 2,
    },
    {
      source: 'syn',
      value: 'Windows 10/11',
      family: 'windows',
      confidence: 85,
      evidence: '4:128+0:0:1460:mss*44,8:mss,nop,ws,nop,nop,sok:df:0',
      mac: null,
      first: '2023-11-14T22:13:30.750000000Z',
      last: '2023-11-14T22:13:30.750000000Z',
      observations: 1,
    },
  ],
};

describe('host profile', () => {
  it('shows the OS verdict, who agreed, and each piece of evidence', () => {
    render(<HostOsView os={os} />);
    expect(screen.getByTestId('host-os-name').textContent).toBe('Windows 10/11');
    expect(screen.getByTestId('host-os-confidence').textContent).toContain('DHCP, User-Agent, TCP SYN');
    const rows = within(screen.getByTestId('host-os-evidence')).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[1]!.textContent).toContain('MSFT 5.0');
    expect(rows[2]!.textContent).toContain('mss,nop,ws,nop,nop,sok');
  });

  it('says when there is no evidence', () => {
    render(<HostOsView os={null} />);
    expect(screen.getByText(/No DHCP fingerprint/)).toBeTruthy();
  });

  it('lists names with their sources and first/last seen', () => {
    render(
      <HostNamesView
        names={[
          {
            name: 'desktop-7qk2m1.corp.example',
            sources: ['dhcp_fqdn', 'dns_ptr'],
            first: '2023-11-14T22:13:23.250000000Z',
            last: '2023-11-14T22:13:34.500000000Z',
            observations: 2,
          },
        ]}
      />,
    );
    const row = screen.getByText('desktop-7qk2m1.corp.example').closest('tr')!;
    expect(row.textContent).toContain('DHCP FQDN, DNS PTR');
    expect(within(row).getAllByRole('cell')).toHaveLength(5);
  });
});
