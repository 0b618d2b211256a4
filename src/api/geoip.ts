import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Reader, type Response } from 'maxmind';

/**
 * Country of an address from the CC0 country database that ships inside an npm package
 * (@ip-location-db/geo-whois-asn-country-mmdb): nothing is downloaded at install or run time.
 * Loaded on first use; when the package is missing every answer is null ("unknown").
 */
export interface GeoIp {
  /** ISO 3166 alpha-2 code, or null for private, reserved or unknown addresses. */
  country(ip: string): string | null;
  /** Where the answers come from, or null when no database is available. */
  readonly source: string | null;
}

/**
 * Private, shared, link-local, loopback, multicast and documentation space: no country,
 * whatever the registry data says (the database maps some of it to the registry's region).
 */
const LOCAL_V4 =
  /^(0|10|127|169\.254|172\.(1[6-9]|2\d|3[01])|192\.168|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])|22[4-9]|2[3-5]\d)\./;
const LOCAL_V6 = /^(::1?$|f[cd]|fe[89ab]|ff|2001:db8:|::ffff:(10|127|192\.168)\.)/i;

export function isLocalAddress(ip: string): boolean {
  return ip.includes(':') ? LOCAL_V6.test(ip) : LOCAL_V4.test(ip);
}

const PACKAGE = '@ip-location-db/geo-whois-asn-country-mmdb';

export function loadGeoIp(): GeoIp {
  let reader: Reader<Response> | null = null;
  let source: string | null = null;
  try {
    const file = createRequire(import.meta.url).resolve(`${PACKAGE}/geo-whois-asn-country.mmdb`);
    reader = new Reader<Response>(readFileSync(file));
    source = `${PACKAGE} (CC0)`;
  } catch {
    reader = null;
  }
  return {
    source,
    country(ip) {
      if (!reader || isLocalAddress(ip)) return null;
      try {
        // This database's records are { country_code }, not MaxMind's nested shape.
        return (reader.get(ip) as { country_code?: string } | null)?.country_code ?? null;
      } catch {
        return null;
      }
    },
  };
}
