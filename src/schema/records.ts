import { alertRecord } from './alert.js';
import { deviceRecord } from './device.js';
import { dhcpRecord } from './dhcp.js';
import { dnsRecord } from './dns.js';
import { exportedFlowRecord, sflowCountersRecord, snmpInterfaceRecord } from './exported-flow.js';
import { flowRecord, weirdRecord } from './flow.js';
import { hostAttrRecord } from './host-attr.js';
import { httpRecord } from './http.js';
import { identityRecord } from './identity.js';
import { lossRecord } from './loss.js';
import type { AnyRecordDef, RecordOf } from './registry.js';
import { sightingRecord } from './sighting.js';
import { smbRecord } from './smb.js';
import { sshRecord } from './ssh.js';
import { tlsRecord } from './tls.js';

export type { AlertRecord } from './alert.js';
export type { SightingRecord } from './sighting.js';
export { alertRecord, flowRecord, weirdRecord };
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
  httpRecord,
  tlsRecord,
  sshRecord,
  smbRecord,
  dhcpRecord,
  deviceRecord,
  hostAttrRecord,
  exportedFlowRecord,
  sflowCountersRecord,
  snmpInterfaceRecord,
  alertRecord,
  sightingRecord,
  identityRecord,
  lossRecord,
];
export { deviceRecord, dhcpRecord, dnsRecord };
export type DnsRecord = RecordOf<typeof dnsRecord>;
export type DhcpRecord = RecordOf<typeof dhcpRecord>;
export type DeviceRecord = RecordOf<typeof deviceRecord>;
export type { HttpRecord } from './http.js';
export type { SmbRecord } from './smb.js';
export type { SshRecord } from './ssh.js';
export type { TlsRecord } from './tls.js';
export { exportedFlowRecord, httpRecord, sflowCountersRecord, smbRecord, sshRecord, tlsRecord };
