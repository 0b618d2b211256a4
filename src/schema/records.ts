import { deviceRecord } from './device.js';
import { dhcpRecord } from './dhcp.js';
import { dnsRecord } from './dns.js';
import { flowRecord, weirdRecord } from './flow.js';
import type { AnyRecordDef, RecordOf } from './registry.js';

export { flowRecord, weirdRecord };
export type FlowRecord = RecordOf<typeof flowRecord>;
export type WeirdRecord = RecordOf<typeof weirdRecord>;

/**
 * Every record type the product stores and serves. The store's tables, the API's routes,
 * filter fields and OpenAPI schemas are generated from this list: a new record type is one
 * more entry here.
 */
export const ALL_RECORDS: readonly AnyRecordDef[] = [
  flowRecord,
  weirdRecord,
  dnsRecord,
  dhcpRecord,
  deviceRecord,
];
export { deviceRecord, dhcpRecord, dnsRecord };
export type DnsRecord = RecordOf<typeof dnsRecord>;
export type DhcpRecord = RecordOf<typeof dhcpRecord>;
export type DeviceRecord = RecordOf<typeof deviceRecord>;
