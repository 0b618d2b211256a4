import { defineRecord, type RecordOf } from './registry.js';

const n = true;

/**
 * Who was at an address: an IP-to-user observation from RADIUS accounting, a Windows logon
 * event or a VPN log, kept as history like the IP-MAC bindings of devices.
 */
export const identityRecord = defineRecord(
  'identity',
  'An IP-to-user observation (RADIUS accounting, Windows logon/logoff, VPN session).',
  'ts',
  {
    ts: { type: 'ts', doc: 'When the session started, ended or was updated.' },
    ip: {
      type: 'ip',
      nullable: n,
      doc: 'Address the user had (null on a stop that names only the session).',
    },
    user: { type: 'string', doc: 'User name as the source gave it.' },
    domain: { type: 'string', nullable: n, doc: 'Windows domain (TargetDomainName), when known.' },
    mac: { type: 'mac', nullable: n, doc: 'Client MAC (RADIUS Calling-Station-Id), when known.' },
    source: { type: 'string', doc: 'radius, windows, vpn or webhook.' },
    event: { type: 'string', doc: 'start, stop or update (RADIUS Interim-Update).' },
    session: {
      type: 'string',
      nullable: n,
      doc: 'Session id (RADIUS Acct-Session-Id, Windows TargetLogonId) joining a stop to its start.',
    },
  },
);

export type IdentityRecord = RecordOf<typeof identityRecord>;
