/**
 * The QUIC Initial functions of the vantage-pcap addon (OpenSSL's AES-GCM, AES-ECB and HMAC
 * through Node's own exported OpenSSL), or null: without the addon, or with VANTAGE_NO_PCAP=1,
 * the analyzer opens Initials with Node's cipher objects and gets the same bytes.
 */
import { createRequire } from 'node:module';

export interface QuicBinding {
  /** Writes key (16), iv (12) and hp (16) for the DCID dcid[off, off + len) to out[0, 44); 44, or -1. */
  quicInitialKeys(dcid: Uint8Array, off: number, len: number, server: boolean, out: Uint8Array): number;
  /** Opens the Initial b[off, end) into out; the plaintext's length, or -1 (cut, too large, not authentic). */
  quicOpenInitial(
    b: Uint8Array,
    off: number,
    pnOff: number,
    end: number,
    keys: Uint8Array,
    out: Uint8Array,
  ): number;
}

function load(): QuicBinding | null {
  if (process.env.VANTAGE_NO_PCAP === '1') return null;
  // The addon takes OpenSSL's symbols from the Node binary; a Node built without OpenSSL has none.
  if (!process.versions.openssl) return null;
  try {
    const b = createRequire(import.meta.url)('vantage-pcap') as Partial<QuicBinding>;
    // An addon built before these functions existed: the JavaScript path still works.
    if (typeof b.quicInitialKeys !== 'function' || typeof b.quicOpenInitial !== 'function') return null;
    return b as QuicBinding;
  } catch {
    return null;
  }
}

export const quicBinding: QuicBinding | null = load();
