import { type RecordColumnBuilder, textKey } from '../record-columns.js';
import type { DnsRecord } from './analyzer.js';

/**
 * DNS transactions written into the `dns` record's columns field by field, from the one record
 * object the analyzer refills. The builder's general path looks every string up in the batch's
 * dictionary map; in the sensor that map is cold by the next DNS message (tens of packets of
 * other flows lie between two), so each lookup is a few cache misses. Here the strings that
 * repeat go through small direct-mapped tables first: mnemonics by their number, the service
 * and status by their shape, names and addresses by a few of their characters. A table entry
 * is used only for the same text in the same batch, so a collision costs a dictionary lookup,
 * never a wrong value.
 */
export class DnsColumnWriter {
  private readonly names: Entries;
  private readonly addrs: Entries;
  private readonly small: Entries;
  private readonly flowId: number;
  private readonly proto: number;
  private readonly clientPort: number;
  private readonly serverPort: number;
  private readonly vlan: number;
  private readonly transId: number;
  private readonly opcode: number;
  private readonly qclass: number;
  private readonly qtype: number;
  private readonly rcode: number;
  private readonly aa: number;
  private readonly tc: number;
  private readonly rd: number;
  private readonly ra: number;
  private readonly ad: number;
  private readonly cd: number;
  private readonly additional: number;
  private readonly rtt: number;
  private readonly ednsSize: number;
  private readonly ednsDo: number;
  private readonly ecsScope: number;
  private readonly communityId: number;
  private readonly clientIp: number;
  private readonly serverIp: number;
  private readonly service: number;
  private readonly status: number;
  private readonly query: number;
  private readonly qclassName: number;
  private readonly qtypeName: number;
  private readonly rcodeName: number;
  private readonly ecs: number;
  private readonly answers: number;
  private readonly authority: number;

  constructor(private readonly cols: RecordColumnBuilder) {
    const used = new Set<string>();
    const num = (name: string): number => at(cols.numIndex(name), name, used);
    const str = (name: string): number => at(cols.strIndex(name), name, used);
    const json = (name: string): number => at(cols.jsonIndex(name), name, used);
    this.flowId = num('flow_id');
    this.proto = num('proto');
    this.clientPort = num('client_port');
    this.serverPort = num('server_port');
    this.vlan = num('vlan');
    this.transId = num('trans_id');
    this.opcode = num('opcode');
    this.qclass = num('qclass');
    this.qtype = num('qtype');
    this.rcode = num('rcode');
    this.aa = num('aa');
    this.tc = num('tc');
    this.rd = num('rd');
    this.ra = num('ra');
    this.ad = num('ad');
    this.cd = num('cd');
    this.additional = num('additional_count');
    this.rtt = num('rtt_ms');
    this.ednsSize = num('edns_udp_size');
    this.ednsDo = num('edns_do');
    this.ecsScope = num('edns_client_subnet_scope');
    this.communityId = str('community_id');
    this.clientIp = str('client_ip');
    this.serverIp = str('server_ip');
    this.service = str('service');
    this.status = str('status');
    this.query = str('query');
    this.qclassName = str('qclass_name');
    this.qtypeName = str('qtype_name');
    this.rcodeName = str('rcode_name');
    this.ecs = str('edns_client_subnet');
    this.answers = json('answers');
    this.authority = json('authority');
    // A field added to the record must be written here too (the time is the row's own).
    for (const f of Object.keys(cols.def.fields))
      if (!used.has(f) && f !== cols.def.timeField) throw new Error(`dns columns: field ${f} is not written`);
    this.names = new Entries(1024);
    this.addrs = new Entries(1024);
    this.small = new Entries(256);
  }

  /** The transaction in `r` (filled as the object path fills it) as the next row. */
  write(r: DnsRecord, tsSec: number, tsNs: number): void {
    const c = this.cols;
    const b = c.batch;
    c.beginRow(tsSec, tsNs);
    c.setNum(this.flowId, num(r.flow_id));
    c.setNum(this.proto, num(r.proto));
    c.setNum(this.clientPort, num(r.client_port));
    c.setNum(this.serverPort, num(r.server_port));
    c.setNum(this.vlan, num(r.vlan));
    c.setNum(this.transId, num(r.trans_id));
    c.setNum(this.opcode, num(r.opcode));
    c.setNum(this.qclass, num(r.qclass));
    c.setNum(this.qtype, num(r.qtype));
    c.setNum(this.rcode, num(r.rcode));
    c.setNum(this.aa, bool(r.aa));
    c.setNum(this.tc, bool(r.tc));
    c.setNum(this.rd, bool(r.rd));
    c.setNum(this.ra, bool(r.ra));
    c.setNum(this.ad, bool(r.ad));
    c.setNum(this.cd, bool(r.cd));
    c.setNum(this.additional, num(r.additional_count));
    c.setNum(this.rtt, num(r.rtt_ms));
    c.setNum(this.ednsSize, num(r.edns_udp_size));
    c.setNum(this.ednsDo, bool(r.edns_do));
    c.setNum(this.ecsScope, num(r.edns_client_subnet_scope));
    const cid = r.community_id;
    c.setStr(this.communityId, typeof cid === 'string' ? c.internNew(cid) : -1);
    const addrs = this.addrs;
    c.setStr(this.clientIp, addrs.entry(c, b, textKey(r.client_ip), r.client_ip));
    c.setStr(this.serverIp, addrs.entry(c, b, textKey(r.server_ip), r.server_ip));
    const small = this.small;
    c.setStr(this.service, small.entry(c, b, r.service.length, r.service));
    c.setStr(this.status, small.entry(c, b, 16 + r.status.length, r.status));
    const q = r.query;
    c.setStr(this.query, q === null ? -1 : this.names.entry(c, b, textKey(q), q));
    // Mnemonics by their number (a name is a function of it): three ranges of one small table.
    c.setStr(this.qclassName, mnemonic(c, small, b, 32, r.qclass, r.qclass_name));
    c.setStr(this.qtypeName, mnemonic(c, small, b, 128, r.qtype, r.qtype_name));
    c.setStr(this.rcodeName, mnemonic(c, small, b, 80, r.rcode, r.rcode_name));
    const ecs = r.edns_client_subnet;
    c.setStr(this.ecs, typeof ecs === 'string' ? c.intern(ecs) : -1);
    c.setJson(this.answers, r.answers);
    c.setJson(this.authority, r.authority);
    c.endRow();
  }
}

function at(i: number, name: string, used: Set<string>): number {
  if (i < 0) throw new Error(`dns columns: no column for ${name}`);
  used.add(name);
  return i;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
const bool = (v: unknown): number => (v === true ? 1 : v === false ? 0 : Number.NaN);

function mnemonic(
  c: RecordColumnBuilder,
  t: Entries,
  b: number,
  base: number,
  code: number | null,
  name: string | null,
): number {
  if (name === null) return -1;
  // Numbers up to 15 have their own entries (the common types, classes and codes); the rest share.
  return t.entry(c, b, code !== null && code >= 0 && code < 16 ? base + code : base + 16 + (code ?? 0), name);
}

/**
 * Dictionary entries of one batch in a direct-mapped table: a slot holds a text, its entry and
 * the batch it belongs to.
 */
class Entries {
  private readonly text: (string | null)[];
  /** Per slot, side by side (one cache line): batch + 1 (0: empty), then the entry. */
  private readonly ofD: Float64Array;
  private readonly mask: number;

  constructor(size: number) {
    this.text = new Array<string | null>(size).fill(null);
    this.ofD = new Float64Array(size * 2);
    this.mask = size - 1;
  }

  entry(c: RecordColumnBuilder, batch: number, key: number, v: string): number {
    const i = key & this.mask;
    const od = this.ofD;
    if (od[2 * i] === batch + 1 && this.text[i] === v) return od[2 * i + 1]!;
    const d = c.intern(v);
    this.text[i] = v;
    od[2 * i] = batch + 1;
    od[2 * i + 1] = d;
    return d;
  }
}
