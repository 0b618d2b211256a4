import { defineRecord, type RecordOf } from './registry.js';
import { l7FlowFields } from './tls.js';

const n = true;

export const httpRecord = defineRecord(
  'http',
  'One HTTP/1.x request and its response (either may be missing).',
  'ts',
  {
    ts: {
      type: 'ts',
      doc: 'Time of the first byte of the request (of the response when there is no request).',
    },
    ...l7FlowFields,
    trans_depth: { type: 'int', doc: 'Position of this exchange within the connection, from 1.' },
    method: { type: 'string', nullable: n, doc: 'Request method.' },
    host: { type: 'string', nullable: n, doc: 'Host header of the request.' },
    uri: { type: 'string', nullable: n, doc: 'Request target as sent.' },
    version: { type: 'string', nullable: n, doc: 'Version token of the request line (HTTP/1.1).' },
    user_agent: { type: 'string', nullable: n, doc: 'User-Agent header.' },
    referrer: { type: 'string', nullable: n, doc: 'Referer header.' },
    request_content_type: { type: 'string', nullable: n, doc: 'Content-Type of the request.' },
    request_content_length: { type: 'int', nullable: n, doc: 'Content-Length the request declared.' },
    request_body_bytes: {
      type: 'int',
      unit: 'bytes',
      doc: 'Request body bytes seen (chunked bodies decoded).',
    },
    status: { type: 'int', nullable: n, doc: 'Response status code.' },
    reason: { type: 'string', nullable: n, doc: 'Response reason phrase.' },
    response_version: { type: 'string', nullable: n, doc: 'Version token of the status line.' },
    server: { type: 'string', nullable: n, doc: 'Server header of the response.' },
    location: { type: 'string', nullable: n, doc: 'Location header of the response (redirects).' },
    response_content_type: { type: 'string', nullable: n, doc: 'Content-Type of the response.' },
    response_content_length: { type: 'int', nullable: n, doc: 'Content-Length the response declared.' },
    response_body_bytes: {
      type: 'int',
      unit: 'bytes',
      doc: 'Response body bytes seen (chunked bodies decoded).',
    },
    response_ms: {
      type: 'float',
      unit: 'ms',
      nullable: n,
      doc: 'First byte of the request to the first byte of the response.',
    },
  },
);

export type HttpRecord = RecordOf<typeof httpRecord>;
