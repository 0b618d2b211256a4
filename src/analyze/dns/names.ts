/** Mnemonics of DNS numbers (IANA "Domain Name System (DNS) Parameters"). */

const TYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  10: 'NULL',
  11: 'WKS',
  12: 'PTR',
  13: 'HINFO',
  15: 'MX',
  16: 'TXT',
  17: 'RP',
  18: 'AFSDB',
  24: 'SIG',
  25: 'KEY',
  28: 'AAAA',
  29: 'LOC',
  33: 'SRV',
  35: 'NAPTR',
  36: 'KX',
  37: 'CERT',
  39: 'DNAME',
  41: 'OPT',
  42: 'APL',
  43: 'DS',
  44: 'SSHFP',
  45: 'IPSECKEY',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  49: 'DHCID',
  50: 'NSEC3',
  51: 'NSEC3PARAM',
  52: 'TLSA',
  53: 'SMIMEA',
  55: 'HIP',
  59: 'CDS',
  60: 'CDNSKEY',
  61: 'OPENPGPKEY',
  62: 'CSYNC',
  63: 'ZONEMD',
  64: 'SVCB',
  65: 'HTTPS',
  99: 'SPF',
  108: 'EUI48',
  109: 'EUI64',
  249: 'TKEY',
  250: 'TSIG',
  251: 'IXFR',
  252: 'AXFR',
  253: 'MAILB',
  254: 'MAILA',
  255: 'ANY',
  256: 'URI',
  257: 'CAA',
};

const RCODES: Record<number, string> = {
  0: 'NoError',
  1: 'FormErr',
  2: 'ServFail',
  3: 'NXDomain',
  4: 'NotImp',
  5: 'Refused',
  6: 'YXDomain',
  7: 'YXRRSet',
  8: 'NXRRSet',
  9: 'NotAuth',
  10: 'NotZone',
  11: 'DSOTYPENI',
};

const CLASSES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };

const OPCODES = ['QUERY', 'IQUERY', 'STATUS', '', 'NOTIFY', 'UPDATE', 'DSO'];

/** "A", "AAAA"... or "TYPE<n>" (RFC 3597) for unknown types. */
export function typeName(t: number): string {
  return TYPES[t] ?? `TYPE${t}`;
}

export function rcodeName(r: number): string {
  return RCODES[r] ?? `RCODE${r}`;
}

/** mDNS sets the top bit of the class (unicast-response / cache-flush); it is not part of the class. */
export function className(c: number): string {
  return CLASSES[c & 0x7fff] ?? `CLASS${c & 0x7fff}`;
}

export function opcodeName(o: number): string {
  return OPCODES[o] || `OPCODE${o}`;
}
