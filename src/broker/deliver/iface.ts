import {
  explainNativeError,
  loadPcapBinding,
  type NativeHandle,
  type PcapBinding,
} from '../../capture/live.js';
import type { Delivery, OutFrame } from '../out-frame.js';
import { countDrop, type TargetCounters } from '../types.js';

/** Frames sent out of a local (Ethernet) interface with pcap_inject; needs the addon and root. */
export class InterfaceDelivery implements Delivery {
  readonly kind = 'interface';
  private binding: PcapBinding | null = null;
  private h: NativeHandle | null = null;

  constructor(
    private readonly iface: string,
    private readonly c: TargetCounters,
  ) {}

  async start(): Promise<void> {
    this.binding = loadPcapBinding();
    try {
      this.h = this.binding.open(this.iface, {
        snaplen: 65535,
        promisc: false,
        immediate: true,
        bufferSize: 1 << 20,
        timeoutMs: 100,
        filter: '',
      });
    } catch (e) {
      throw explainNativeError(e, `sending to interface ${this.iface}`, this.binding);
    }
  }

  send(f: OutFrame, caplen: number): void {
    const c = this.c;
    if (!this.binding || !this.h) {
      countDrop(c, 'not_started');
      return;
    }
    try {
      this.binding.inject(this.h, f.buf.subarray(f.off, f.off + caplen));
      c.sent++;
      c.bytes += caplen;
    } catch {
      countDrop(c, 'send_error');
    }
  }

  async stop(): Promise<void> {
    if (this.binding && this.h) this.binding.close(this.h);
    this.h = null;
  }
}
