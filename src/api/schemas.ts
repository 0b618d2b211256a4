import { type TSchema, Type } from '@sinclair/typebox';
import { type AnyRecordDef, type FieldDef, fieldLabel } from '../schema/registry.js';

/** OpenAPI (JSON Schema) shapes generated from the field registry. */

function fieldSchema(name: string, fd: FieldDef): TSchema {
  const opts = { description: fd.unit ? `${fd.doc} (${fd.unit})` : fd.doc, title: fieldLabel(name, fd) };
  let s: TSchema;
  switch (fd.type) {
    case 'int':
      s = Type.Integer(opts);
      break;
    case 'float':
      s = Type.Number(opts);
      break;
    case 'bool':
      s = Type.Boolean(opts);
      break;
    case 'ts':
      s = Type.String({ ...opts, format: 'date-time' });
      break;
    case 'string[]':
      s = Type.Array(Type.String(), opts);
      break;
    case 'int[]':
      s = Type.Array(Type.Integer(), opts);
      break;
    case 'json':
      s = Type.Unknown(opts);
      break;
    case 'ip':
      s = Type.String({ ...opts, examples: ['10.0.0.1', '2001:db8::1'] });
      break;
    case 'mac':
      s = Type.String({ ...opts, examples: ['00:11:22:33:44:55'] });
      break;
    default:
      s = Type.String(opts);
  }
  return fd.nullable ? Type.Union([s, Type.Null()], opts) : s;
}

export function recordSchema(def: AnyRecordDef): TSchema {
  const props: Record<string, TSchema> = {};
  for (const [n, fd] of Object.entries(def.fields)) props[n] = Type.Optional(fieldSchema(n, fd));
  return Type.Object(props, { description: def.doc, additionalProperties: false });
}

/**
 * Marks a value whose validity is a grammar or server state that JSON Schema cannot express
 * (filter expressions, field lists, cursors, tcpdump filters, monitor rules): any string of the
 * documented length is well formed, and the server answers 400 saying where it is wrong. The
 * schemathesis hooks (scripts/schemathesis/hooks.py) send the documented examples as the valid
 * values of these, so the fuzzer's "valid request" is one the grammar accepts too.
 */
export const SEMANTIC = 'x-vantage-semantic';
export function semantic<T extends TSchema>(s: T, examples: unknown[] = []): T {
  return { ...s, [SEMANTIC]: true, ...(examples.length ? { examples } : {}) };
}

const problemProps = {
  type: Type.String({ description: 'URI naming the kind of problem (urn:vantage:problem:...).' }),
  title: Type.String({ description: 'Short summary of the kind of problem (the HTTP reason phrase).' }),
  status: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status code.' }),
  detail: Type.String({ description: 'What went wrong and what to change.' }),
  instance: Type.Optional(Type.String({ description: 'The path of the request.' })),
  request_id: Type.String({
    description: 'The request id (also in the X-Request-Id header); quote it when reporting.',
  }),
  position: Type.Optional(
    Type.Integer({ description: 'Character position in the filter where parsing failed.' }),
  ),
  expected: Type.Optional(Type.String({ description: 'What the filter parser expected at position.' })),
  error: Type.Object(
    {
      status: Type.Integer(),
      message: Type.String(),
      position: Type.Optional(Type.Integer()),
      expected: Type.Optional(Type.String()),
    },
    {
      additionalProperties: true,
      deprecated: true,
      description:
        'The v1 error shape before problem documents: status and detail again (kept for compatibility).',
    },
  ),
};
const PROBLEM_DOC =
  'An RFC 9457 problem document (application/problem+json): every error the API answers with.';

/** The shared problem document, referenced by every route's error responses in the OpenAPI document. */
export const ProblemSchema = Type.Object(problemProps, {
  $id: 'Problem',
  title: 'Problem',
  description: PROBLEM_DOC,
  additionalProperties: true,
});

/**
 * Kept for routes that list error responses themselves: the OpenAPI document replaces every
 * 4xx/5xx entry with the shared Problem response (src/api/contract.ts) whatever is written here.
 */
export const ErrorSchema = Type.Object(problemProps, {
  description: PROBLEM_DOC,
  additionalProperties: true,
});

/**
 * The times every route accepts: ISO-8601 (date, or date and time with an optional offset; a day
 * past the end of its month rolls over), epoch seconds, `now`, or relative to now (-90s, -5m,
 * -1h, -2d, -1w). One pattern validates them and documents them; parseApiTime reads exactly these.
 */
export const TIME_PATTERN =
  '^(?:now|-[0-9]{1,9}(?:\\.[0-9]{1,6})?[smhdw]|[0-9]{1,10}(?:\\.[0-9]{1,6})?|[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?)$';

export const TimeParam = (description: string) =>
  Type.String({
    description,
    pattern: TIME_PATTERN,
    maxLength: 40,
    examples: ['-1h', '2024-05-01T10:00:00Z'],
  });

export const TimeQuery = {
  after: Type.Optional(
    TimeParam('Start of the range (inclusive): ISO-8601, epoch seconds, now or relative (-1h).'),
  ),
  before: Type.Optional(
    TimeParam(
      'End of the range (exclusive): same forms as after. A range that ends before it starts is empty.',
    ),
  ),
  filter: Type.Optional(
    semantic(
      Type.String({
        description:
          'Filter over registry fields, e.g. `client_ip = 10.0.0.0/8 and server_port in (443, 8443) and app ~ "google"`. Operators: = != < <= > >= ~ (contains) !~ in, not in, exists; and/or/not; parentheses.',
        maxLength: 4096,
      }),
    ),
  ),
};

export const ListQuerySchema = Type.Object(
  {
    ...TimeQuery,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
    cursor: Type.Optional(
      semantic(Type.String({ maxLength: 2048, description: 'The `next` value of the previous page.' })),
    ),
    sort: Type.Optional(
      semantic(
        Type.String({ maxLength: 64, description: 'Field to sort by; prefix with - for descending.' }),
      ),
    ),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    fields: Type.Optional(
      semantic(Type.String({ maxLength: 4096, description: 'Comma-separated fields to return.' })),
    ),
    format: Type.Optional(
      Type.Union(
        [Type.Literal('json'), Type.Literal('ndjson'), Type.Literal('csv'), Type.Literal('parquet')],
        {
          description:
            'Export all matching rows (streamed) instead of one page. Also chosen by the Accept header.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const V4 =
  '(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const H = '[0-9a-fA-F]{1,4}';
const V6 = `(?:(?:${H}:){7}${H}|(?:${H}:){1,7}:|(?:${H}:){1,6}:${H}|(?:${H}:){1,5}(?::${H}){1,2}|(?:${H}:){1,4}(?::${H}){1,3}|(?:${H}:){1,3}(?::${H}){1,4}|(?:${H}:){1,2}(?::${H}){1,5}|${H}:(?::${H}){1,6}|:(?:(?::${H}){1,7}|:))`;
/** An IPv4 or IPv6 address (IPv6 without an embedded IPv4 part or a zone). */
export const IP_PATTERN = `^(?:${V4}|${V6})$`;
/** A network: an address and a prefix length that fits its family. */
export const CIDR_PATTERN = `^(?:${V4}/(?:3[0-2]|[12]?[0-9])|${V6}/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))$`;
export const IpParam = (description = 'An IPv4 or IPv6 address.') =>
  Type.String({ pattern: IP_PATTERN, maxLength: 39, description, examples: ['10.0.0.1', '2001:db8::1'] });
export const CidrParam = (description = 'A network, e.g. 10.0.0.0/8 or 2001:db8::/32.') =>
  Type.String({ pattern: CIDR_PATTERN, maxLength: 43, description, examples: ['10.0.0.0/8'] });
export const COMMUNITY_ID_PATTERN = '^1:[A-Za-z0-9+/]{27}=$';
