import { defineRecord, type RecordOf } from './registry.js';
import { l7FlowFields } from './tls.js';

const n = true;

export const smbRecord = defineRecord(
  'smb',
  'SMB2/3 activity of one connection, summarised when the flow ends.',
  'ts',
  {
    ts: { type: 'ts', doc: 'Time of the first SMB message seen.' },
    ...l7FlowFields,
    dialect: {
      type: 'string',
      nullable: n,
      doc: 'Dialect the server chose in NEGOTIATE (2.0.2, 2.1, 3.0, 3.0.2, 3.1.1).',
    },
    shares: {
      type: 'string[]',
      doc: 'Paths of the TREE_CONNECT requests (\\\\server\\share), in order, distinct.',
    },
    commands: {
      type: 'json',
      doc: 'SMB2 messages by command name (requests and responses), e.g. {"READ": 14}.',
    },
    requests: { type: 'int', doc: 'SMB2 requests seen.' },
    responses: { type: 'int', doc: 'SMB2 responses seen.' },
    errors: {
      type: 'int',
      doc: 'Responses with an error status (not STATUS_SUCCESS, pending or more-processing).',
    },
    encrypted: { type: 'int', doc: 'SMB3 encrypted (transform) messages seen.' },
    smb1: { type: 'int', doc: 'SMB1 messages seen.' },
  },
);

export type SmbRecord = RecordOf<typeof smbRecord>;
