/**
 * The field registry: every record type and field is declared once here. The TypeScript
 * record types, the store's tables, the API's filter grammar, the OpenAPI document and the
 * console's column labels are all derived from these declarations.
 */

export type FieldType =
  | 'string'
  | 'ip'
  | 'mac'
  | 'int'
  | 'float'
  | 'bool'
  | 'ts'
  | 'string[]'
  | 'int[]'
  | 'json';

export interface FieldDef {
  readonly type: FieldType;
  readonly doc: string;
  /** Unit for numbers ("bytes", "packets", "ms"). */
  readonly unit?: string;
  /** May be null (absent). */
  readonly nullable?: boolean;
  /** Set only by the sources that have it (nullable too): records without it leave it out. */
  readonly optional?: boolean;
  /** Label shown in the console; defaults to the field name in words. */
  readonly label?: string;
  /** IPFIX information element id when one exists. */
  readonly ipfix?: number;
}

export interface RecordDef<
  T extends string = string,
  F extends Record<string, FieldDef> = Record<string, FieldDef>,
> {
  readonly type: T;
  readonly doc: string;
  /** The field that orders records in time (a `ts` field). */
  readonly timeField: keyof F & string;
  readonly fields: F;
  /**
   * For records that change after they were first written (alerts): the field that names
   * one record. A later append with the same key replaces the earlier row; such records stay
   * in the store's mutable table and are never compacted.
   */
  readonly key?: keyof F & string;
}

export function defineRecord<const T extends string, const F extends Record<string, FieldDef>>(
  type: T,
  doc: string,
  timeField: keyof F & string,
  fields: F,
  opts: { key?: keyof F & string } = {},
): RecordDef<T, F> {
  return opts.key === undefined
    ? { type, doc, timeField, fields }
    : { type, doc, timeField, fields, key: opts.key };
}

type Base<D extends FieldDef> = D['type'] extends 'int' | 'float'
  ? number
  : D['type'] extends 'bool'
    ? boolean
    : D['type'] extends 'string[]'
      ? string[]
      : D['type'] extends 'int[]'
        ? number[]
        : D['type'] extends 'json'
          ? unknown
          : string;

type FieldValue<D extends FieldDef> = D['nullable'] extends true ? Base<D> | null : Base<D>;

/** The record object type a definition describes. */
export interface AnyRecordDef {
  readonly type: string;
  readonly doc: string;
  readonly timeField: string;
  readonly fields: Record<string, FieldDef>;
  readonly key?: string;
}

type OptionalKeys<F> = { [K in keyof F]: F[K] extends { optional: true } ? K : never }[keyof F];

export type RecordOf<R extends AnyRecordDef> = { type: R['type'] } & {
  -readonly [K in Exclude<keyof R['fields'], OptionalKeys<R['fields']>>]: FieldValue<R['fields'][K]>;
} & {
  -readonly [K in OptionalKeys<R['fields']>]?: FieldValue<R['fields'][K]>;
};

export function fieldLabel(name: string, def: FieldDef): string {
  if (def.label) return def.label;
  const words = name
    .split('_')
    .map((w) =>
      [
        'ip',
        'id',
        'mac',
        'rtt',
        'srt',
        'ttl',
        'tls',
        'dns',
        'http',
        'vni',
        'ts',
        'sni',
        'ja3',
        'ja4',
      ].includes(w)
        ? w.toUpperCase()
        : w,
    )
    .join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
