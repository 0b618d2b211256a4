import { type Frame, LinkType } from '../capture/frame.js';
import { decodeIpv4, decodeIpv6 } from './ip.js';
import {
  decodeEthernet,
  decodeNull,
  decodeRawIp,
  decodeSll,
  decodeSll2,
  ETH_IPV4,
  ETH_IPV6,
} from './link.js';
import { Packet } from './packet.js';
import { W } from './weird.js';

/**
 * Decodes frames into one reused `Packet`. Never throws on packet content: anything the
 * layers cannot read is flagged in `packet.weird` and decoding stops at that layer.
 */
export class Decoder {
  readonly packet = new Packet();

  decode(f: Frame): Packet {
    return this.decodeBytes(f.buf, f.off, f.caplen, f.wirelen, f.linkType, f.tsSec, f.tsNs, f.ifIndex);
  }

  decodeBytes(
    buf: Buffer,
    off: number,
    caplen: number,
    wirelen: number,
    linkType: number,
    tsSec: number,
    tsNs: number,
    ifIndex: number,
  ): Packet {
    const p = this.packet;
    p.reset();
    p.buf = buf;
    p.frameOff = off;
    p.caplen = caplen;
    p.wirelen = wirelen;
    p.tsSec = tsSec;
    p.tsNs = tsNs;
    p.ifIndex = ifIndex;
    p.linkType = linkType;
    const end = off + caplen;
    if (caplen === 0) {
      p.setWeird(W.zero_length_frame, off);
      return p;
    }
    switch (linkType) {
      case LinkType.ETHERNET:
        decodeEthernet(p, off, end);
        break;
      case LinkType.RAW:
      case LinkType.RAW_BSD:
      case LinkType.RAW_BSD14:
        decodeRawIp(p, off, end);
        break;
      case LinkType.IPV4:
        p.etherType = ETH_IPV4;
        decodeIpv4(p, off, end);
        break;
      case LinkType.IPV6:
        p.etherType = ETH_IPV6;
        decodeIpv6(p, off, end);
        break;
      case LinkType.LINUX_SLL:
        decodeSll(p, off, end);
        break;
      case LinkType.LINUX_SLL2:
        decodeSll2(p, off, end);
        break;
      case LinkType.NULL:
        decodeNull(p, off, end, false);
        break;
      case LinkType.LOOP:
        decodeNull(p, off, end, true);
        break;
      default:
        p.setWeird(W.unknown_link_type, off);
    }
    return p;
  }
}
