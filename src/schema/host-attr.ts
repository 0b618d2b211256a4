import { defineRecord, type RecordOf } from './registry.js';

const n = true;

/**
 * One thing learned about a host, with when it was first and last seen: an operating-system
 * guess from one source (DHCP fingerprint, TCP SYN signature, HTTP User-Agent) or a name
 * (DHCP, mDNS, NetBIOS, DNS PTR). Kept as history like the IP-MAC bindings of devices: the
 * host page folds the rows of one (ip, kind, value, source) together.
 */
export const hostAttrRecord = defineRecord(
  'host_attr',
  'An operating-system guess or a name seen for a host, with first and last seen.',
  'last_ts',
  {
    ip: { type: 'ip', doc: 'Address of the host.' },
    mac: { type: 'mac', nullable: n, doc: 'MAC address the evidence came from, when known.' },
    kind: { type: 'string', doc: 'os (an operating-system guess) or name (a host name).' },
    value: {
      type: 'string',
      doc: 'The guess ("Windows 10/11", "macOS", "Android") or the name ("alice-laptop.local").',
    },
    family: {
      type: 'string',
      nullable: n,
      doc: 'Operating-system family of an os guess: windows, macos, ios, android, linux, chromeos, bsd, printer, voip, embedded.',
    },
    source: {
      type: 'string',
      doc: 'dhcp, syn or http (os); dhcp, dhcp_fqdn, mdns, nbns or dns_ptr (name).',
    },
    evidence: {
      type: 'string',
      doc: 'What was seen: the option 55 list and vendor class, the SYN signature, the User-Agent, the record that named the host.',
    },
    confidence: { type: 'int', doc: 'How sure the guess is from this evidence alone, 0 to 100.' },
    first_ts: { type: 'ts', doc: 'First time the evidence was seen.' },
    last_ts: { type: 'ts', doc: 'Last time the evidence was seen.' },
    observations: { type: 'int', doc: 'Messages that showed it.' },
  },
);

export type HostAttrRecord = RecordOf<typeof hostAttrRecord>;
