import { defineRecord, type RecordOf } from './registry.js';
import { l7FlowFields } from './tls.js';

const n = true;

export const sshRecord = defineRecord('ssh', 'The identification banners of one SSH connection.', 'ts', {
  ts: { type: 'ts', doc: 'Time of the first banner seen.' },
  ...l7FlowFields,
  client_banner: {
    type: 'string',
    nullable: n,
    doc: 'Identification string the client sent (SSH-2.0-OpenSSH_9.6).',
  },
  server_banner: { type: 'string', nullable: n, doc: 'Identification string the server sent.' },
  client_software: { type: 'string', nullable: n, doc: 'Software part of the client banner (OpenSSH_9.6).' },
  server_software: { type: 'string', nullable: n, doc: 'Software part of the server banner.' },
  version: { type: 'string', nullable: n, doc: 'Protocol version the server announced (2.0, 1.99, 1.5).' },
});

export type SshRecord = RecordOf<typeof sshRecord>;
