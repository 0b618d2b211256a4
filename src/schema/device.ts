import { defineRecord } from './registry.js';

const n = true;

/**
 * An active device: one IP address bound to one MAC address (per VLAN), learned from ARP,
 * IPv6 neighbour discovery and DHCP. When another MAC claims the address, the old binding is
 * emitted with status "replaced" and the new one lists the old MAC in `previous_macs`.
 */
export const deviceRecord = defineRecord(
  'device',
  'An IP-to-MAC binding seen on the wire (active device).',
  'last_ts',
  {
    ip: { type: 'ip', doc: 'Address of the device.' },
    mac: { type: 'mac', doc: 'MAC address that announced or was given the address.' },
    vendor: {
      type: 'string',
      nullable: n,
      doc: 'Organisation the IEEE assigned the MAC’s OUI to; null for locally administered MACs.',
    },
    vlan: { type: 'int', nullable: n, doc: 'Outer 802.1Q VLAN id where the binding was seen.' },
    first_ts: { type: 'ts', doc: 'First observation of this binding.' },
    last_ts: { type: 'ts', doc: 'Last observation of this binding.' },
    observations: { type: 'int', doc: 'Messages that showed the binding.' },
    sources: { type: 'string[]', doc: 'Protocols that showed it: arp, nd, dhcp.' },
    hostname: { type: 'string', nullable: n, doc: 'Host name the MAC gave in DHCP (option 12).' },
    vendor_class: {
      type: 'string',
      nullable: n,
      doc: 'DHCP vendor class identifier (option 60) of the MAC.',
    },
    previous_macs: { type: 'string[]', doc: 'MACs that held this address before, oldest first.' },
    status: {
      type: 'string',
      doc: 'current (still held at emission) or replaced (another MAC took the address).',
    },
  },
);
