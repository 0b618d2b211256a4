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

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      status: Type.Integer(),
      message: Type.String({ description: 'What went wrong and what to change.' }),
      position: Type.Optional(
        Type.Integer({ description: 'Character position in the filter where parsing failed.' }),
      ),
      expected: Type.Optional(Type.String()),
    }),
  },
  { $id: 'error' },
);

export const TimeQuery = {
  after: Type.Optional(
    Type.String({
      description: 'Start of the range (inclusive): ISO-8601, epoch seconds or relative (-1h).',
      maxLength: 64,
    }),
  ),
  before: Type.Optional(
    Type.String({ description: 'End of the range (exclusive): same forms as after.', maxLength: 64 }),
  ),
  filter: Type.Optional(
    Type.String({
      description:
        'Filter over registry fields, e.g. `client_ip = 10.0.0.0/8 and server_port in (443, 8443) and app ~ "google"`. Operators: = != < <= > >= ~ (contains) !~ in, not in, exists; and/or/not; parentheses.',
      maxLength: 4096,
    }),
  ),
};

export const ListQuerySchema = Type.Object(
  {
    ...TimeQuery,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
    cursor: Type.Optional(
      Type.String({ maxLength: 2048, description: 'The `next` value of the previous page.' }),
    ),
    sort: Type.Optional(
      Type.String({ maxLength: 64, description: 'Field to sort by; prefix with - for descending.' }),
    ),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    fields: Type.Optional(Type.String({ maxLength: 4096, description: 'Comma-separated fields to return.' })),
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
