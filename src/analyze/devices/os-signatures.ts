/**
 * Built-in operating-system signatures: DHCP fingerprints (option 55 and option 60), TCP SYN
 * signatures (p0f v3 style) and the OS part of HTTP User-Agents. Written from public knowledge:
 * the option 55 lists are the ones the stock DHCP clients of each system send (Windows' DHCP
 * client service, Apple's IPConfiguration, Android's DhcpClient, ISC dhclient, NetworkManager,
 * systemd-networkd, dhcpcd, BusyBox udhcpc), checked against the verified signatures collected
 * in github.com/daviswr/dhcpd.fingerprint (signatures.md: Apple macOS 10.5-12 and iOS 2-17,
 * Debian/Ubuntu/Red Hat/Arch clients, udhcp appliances) and, for Windows 10/11, Fingerbank's
 * "Microsoft Windows Kernel 10.0" fingerprint; the
 * SYN layouts are the TCP option orders of each stack's connect() (Windows, Linux, XNU, the
 * BSDs), the same facts p0f's database encodes; the User-Agent tokens are the platform tokens
 * browsers document (Windows NT x.y, Mac OS X, iPhone OS, Android, CrOS, X11; Linux).
 */

/** An operating-system family; `apple` and `unix` are umbrellas a SYN cannot split further. */
export type OsFamily =
  | 'windows'
  | 'macos'
  | 'ios'
  | 'android'
  | 'linux'
  | 'chromeos'
  | 'bsd'
  | 'printer'
  | 'voip'
  | 'embedded'
  | 'apple';

export interface OsGuess {
  value: string;
  family: OsFamily;
  /** 0 to 100: how sure this one piece of evidence is on its own. */
  confidence: number;
}

/** Families an umbrella guess also speaks for (a Linux SYN fits Android and ChromeOS too). */
export const FAMILY_COVERS: Partial<Record<OsFamily, readonly OsFamily[]>> = {
  linux: ['android', 'chromeos', 'embedded'],
  apple: ['macos', 'ios'],
};

// ---------------------------------------------------------------------------------------------
// DHCP: option 55 parameter request lists, in the order the client sends them.

const DHCP_55: readonly [string, string, OsFamily, number][] = [
  ['1,3,6,15,31,33,43,44,46,47,119,121,249,252', 'Windows 10/11', 'windows', 90],
  ['1,15,3,6,44,46,47,31,33,121,249,43,252', 'Windows 8', 'windows', 85],
  ['1,15,3,6,44,46,47,31,33,121,249,43', 'Windows 7', 'windows', 85],
  ['1,15,3,6,44,46,47,31,33,249,43,252', 'Windows Vista', 'windows', 80],
  ['1,15,3,6,44,46,47,31,33,249,43', 'Windows XP', 'windows', 80],
  ['1,121,3,6,15,108,114,119,252,95,44,46', 'macOS', 'macos', 90],
  ['1,121,3,6,15,114,119,252,95,44,46', 'macOS', 'macos', 85],
  ['1,121,3,6,15,119,252,95,44,46', 'macOS', 'macos', 85],
  ['1,3,6,15,119,95,252,44,46', 'macOS (OS X 10.7-10.10)', 'macos', 80],
  ['1,3,6,15,119,95,252,44,46,47', 'macOS (OS X 10.5-10.6)', 'macos', 80],
  ['1,121,3,6,15,108,114,119,252', 'iOS/iPadOS', 'ios', 85],
  ['1,121,3,6,15,114,119,252', 'iOS/iPadOS', 'ios', 85],
  ['1,121,3,6,15,119,252', 'iOS/iPadOS', 'ios', 85],
  ['1,3,6,15,119,252', 'iOS/iPadOS', 'ios', 75],
  ['1,3,6,15,26,28,51,58,59,43,114,108', 'Android', 'android', 85],
  ['1,3,6,15,26,28,51,58,59,43,114', 'Android', 'android', 85],
  ['1,3,6,15,26,28,51,58,59,43', 'Android', 'android', 85],
  ['1,3,6,15,26,28,51,58,59', 'Android', 'android', 80],
  ['1,33,3,6,15,28,51,58,59', 'Android', 'android', 75],
  // dhcpcd 5 (Gentoo, Arch, Puppy; ChromeOS also runs dhcpcd, its User-Agent says which).
  ['1,121,33,3,6,12,15,26,28,42,51,54,58,59,119', 'Linux (dhcpcd)', 'linux', 65],
  ['1,28,2,3,15,6,119,12,44,47,26,121,42', 'Linux (dhclient)', 'linux', 75],
  ['1,28,2,3,15,6,119,12,44,47,26,121,42,121,249,252,42', 'Linux (NetworkManager)', 'linux', 75],
  ['1,28,2,3,15,6,119,12,44,47,26,121,42,121,249,33,252,42', 'Linux (NetworkManager)', 'linux', 75],
  ['1,28,2,121,15,6,12,40,41,42,26,119,3', 'Linux (dhclient, Red Hat family)', 'linux', 75],
  ['1,28,2,121,15,6,12,40,41,42,26,119,3,121,249,252,42', 'Linux (NetworkManager)', 'linux', 75],
  ['1,28,2,121,15,6,12,40,41,42,26,119,3,121,249,33,252,42', 'Linux (NetworkManager)', 'linux', 75],
  ['1,2,6,12,15,26,28,121,3,33,40,41,42,119,249,252,17', 'Linux (NetworkManager)', 'linux', 75],
  ['1,3,6,12,15,33,42,120,121', 'Linux (systemd-networkd)', 'linux', 65],
  ['1,3,6,12,15,28,42', 'Embedded Linux (udhcpc)', 'embedded', 65],
  ['1,3,6,12,15,28,40,41,42', 'Embedded Linux (udhcpc)', 'embedded', 60],
  ['1,3,44,6,7,12,15,22,54,58,59,69,18,144', 'HP printer', 'printer', 75],
];

const DHCP_55_MAP = new Map(
  DHCP_55.map(([k, value, family, confidence]) => [k, { value, family, confidence }]),
);

const DHCP_60: readonly [RegExp, (m: RegExpExecArray) => string, OsFamily, number][] = [
  [/^MSFT 5\.0/, () => 'Windows', 'windows', 85],
  [/^MSFT 98/, () => 'Windows 98/ME', 'windows', 85],
  [/^android-dhcp-(\d+)/, (m) => `Android ${m[1]}`, 'android', 90],
  [/^dhcpcd-[\d.]+:Linux/i, () => 'Linux (dhcpcd)', 'linux', 65],
  [/^dhcpcd/i, () => 'Linux (dhcpcd)', 'linux', 55],
  [/^udhcp/i, () => 'Embedded Linux (udhcpc)', 'embedded', 70],
  [/^Cisco Systems,? Inc\.? IP Phone/i, () => 'Cisco IP phone', 'voip', 95],
  [/^Polycom/i, () => 'Polycom phone', 'voip', 90],
  [/^Yealink/i, () => 'Yealink phone', 'voip', 90],
  [/^(Aastra|Mitel)/i, () => 'Mitel phone', 'voip', 85],
  [/^ArubaAP/, () => 'Aruba access point', 'embedded', 90],
  [/^Hewlett-Packard JetDirect/i, () => 'HP printer', 'printer', 90],
  [/^(Brother|Canon|EPSON|Lexmark|Xerox|Kyocera)/i, (m) => `${m[1]} printer`, 'printer', 80],
];

/** The guess a DHCP client message supports: option 55 list and option 60 vendor class. */
export function dhcpGuess(params: readonly number[], vendorClass: string | null): OsGuess | null {
  const byList = params.length > 0 ? (DHCP_55_MAP.get(params.join(',')) ?? null) : null;
  let byVendor: OsGuess | null = null;
  if (vendorClass) {
    for (const [re, name, family, confidence] of DHCP_60) {
      const m = re.exec(vendorClass);
      if (m) {
        byVendor = { value: name(m), family, confidence };
        break;
      }
    }
  }
  if (byList && byVendor) {
    if (byList.family === byVendor.family) {
      // The vendor class names the version on Android; the list names it on Windows.
      const value = /\d/.test(byVendor.value) ? byVendor.value : byList.value;
      return {
        value,
        family: byList.family,
        confidence: Math.min(98, Math.max(byList.confidence, byVendor.confidence) + 8),
      };
    }
    const best = byList.confidence >= byVendor.confidence ? byList : byVendor;
    return { ...best, confidence: best.confidence - 25 };
  }
  return byList ? { ...byList } : byVendor;
}

// ---------------------------------------------------------------------------------------------
// TCP SYN signatures, p0f v3 style: initial TTL, window (absolute or a multiple of the MSS),
// window scale, option layout, DF.

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WS = 3;
export const OPT_SOK = 4;
export const OPT_SACK = 5;
export const OPT_TS = 8;

interface SynSig {
  value: string;
  family: OsFamily;
  ittl: number;
  /** Option kinds in order; EOL padding is ignored. */
  layout: readonly number[];
  /** Windows that fit: absolute values, or negative -N for "MSS × N". Empty: any. */
  windows: readonly number[];
  /** Window scales that fit; empty: any. */
  scales: readonly number[];
}

const M = OPT_MSS;
const N = OPT_NOP;
const W = OPT_WS;
const S = OPT_SOK;
const T = OPT_TS;

const SYN_SIGS: readonly SynSig[] = [
  {
    value: 'Windows 10/11',
    family: 'windows',
    ittl: 128,
    layout: [M, N, W, N, N, S],
    windows: [64240, 65535],
    scales: [8],
  },
  {
    value: 'Windows 7/8',
    family: 'windows',
    ittl: 128,
    layout: [M, N, W, N, N, S],
    windows: [8192],
    scales: [0, 2, 8],
  },
  { value: 'Windows 7/8', family: 'windows', ittl: 128, layout: [M, N, N, S], windows: [8192], scales: [] },
  {
    value: 'Windows XP',
    family: 'windows',
    ittl: 128,
    layout: [M, N, N, S],
    windows: [65535, 64512, 16384],
    scales: [],
  },
  { value: 'Windows', family: 'windows', ittl: 128, layout: [M, N, W, N, N, S], windows: [], scales: [] },
  { value: 'Windows', family: 'windows', ittl: 128, layout: [M, N, W, N, N, T, S], windows: [], scales: [] },
  {
    value: 'Linux 3.x+',
    family: 'linux',
    ittl: 64,
    layout: [M, S, T, N, W],
    windows: [64240, 65495, 29200, -10, -20, -44, -45],
    scales: [7, 8, 9, 10],
  },
  { value: 'Linux 2.6', family: 'linux', ittl: 64, layout: [M, S, T, N, W], windows: [5840, -4], scales: [] },
  { value: 'Linux', family: 'linux', ittl: 64, layout: [M, S, T, N, W], windows: [], scales: [] },
  { value: 'Linux', family: 'linux', ittl: 64, layout: [M, N, N, S, N, W], windows: [], scales: [] },
  {
    value: 'macOS or iOS',
    family: 'apple',
    ittl: 64,
    layout: [M, N, W, N, N, T, S],
    windows: [65535],
    scales: [5, 6],
  },
  {
    value: 'macOS or iOS',
    family: 'apple',
    ittl: 64,
    layout: [M, N, W, N, N, T, S],
    windows: [],
    scales: [],
  },
  { value: 'FreeBSD', family: 'bsd', ittl: 64, layout: [M, N, W, S, T], windows: [65535], scales: [] },
  {
    value: 'OpenBSD',
    family: 'bsd',
    ittl: 64,
    layout: [M, N, N, S, N, W, N, N, T],
    windows: [16384],
    scales: [],
  },
];

/**
 * Reusable reader of one SYN's signature: `read` fills it from the packet's bytes without
 * allocating; `guess` and `text` make objects only for a SYN worth recording.
 */
export class SynSignature {
  ttl = 0;
  ittl = 0;
  window = 0;
  mss = -1;
  scale = -1;
  df = false;
  ipVer = 4;
  readonly layout = new Uint8Array(40);
  layoutLen = 0;
  /** Options cut short or with a bad length. */
  bad = false;

  /** Read the TCP options at [off, end) and the IP facts given. */
  read(
    buf: Uint8Array,
    off: number,
    end: number,
    ipVer: number,
    ttl: number,
    df: boolean,
    window: number,
  ): void {
    this.ipVer = ipVer;
    this.ttl = ttl;
    this.ittl = initialTtl(ttl);
    this.df = df;
    this.window = window;
    this.mss = -1;
    this.scale = -1;
    this.layoutLen = 0;
    this.bad = false;
    let o = off;
    while (o < end) {
      const kind = buf[o]!;
      if (kind === OPT_EOL) break;
      if (this.layoutLen < this.layout.length) this.layout[this.layoutLen++] = kind;
      if (kind === OPT_NOP) {
        o++;
        continue;
      }
      if (o + 1 >= end) {
        this.bad = true;
        break;
      }
      const len = buf[o + 1]!;
      if (len < 2 || o + len > end) {
        this.bad = true;
        break;
      }
      if (kind === OPT_MSS && len === 4) this.mss = (buf[o + 2]! << 8) | buf[o + 3]!;
      else if (kind === OPT_WS && len === 3) this.scale = buf[o + 2]!;
      o += len;
    }
  }

  /** The best-fitting signature, or null when the layout is not one we know. */
  guess(): OsGuess | null {
    let best: OsGuess | null = null;
    for (const s of SYN_SIGS) {
      if (s.ittl !== this.ittl || !this.layoutIs(s.layout)) continue;
      let conf = 60;
      if (s.windows.length > 0) {
        if (
          !s.windows.some((w) => (w < 0 ? this.mss > 0 && this.window === -w * this.mss : this.window === w))
        )
          continue;
        conf += 15;
      }
      if (s.scales.length > 0) {
        if (!s.scales.includes(this.scale)) continue;
        conf += 5;
      }
      if (this.df || this.ipVer === 6) conf += 5;
      if (!best || conf > best.confidence) best = { value: s.value, family: s.family, confidence: conf };
    }
    return best;
  }

  /** p0f's notation: ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass. */
  text(): string {
    const names: string[] = [];
    for (let i = 0; i < this.layoutLen; i++) names.push(OPT_NAMES[this.layout[i]!] ?? `?${this.layout[i]}`);
    const wsize =
      this.mss > 0 && this.window % this.mss === 0 && this.window > 0
        ? `mss*${this.window / this.mss}`
        : `${this.window}`;
    const dist = this.ittl - this.ttl;
    return `${this.ipVer}:${this.ttl}+${dist}:0:${this.mss < 0 ? '*' : this.mss}:${wsize},${this.scale < 0 ? 0 : this.scale}:${names.join(',')}:${this.df ? 'df' : ''}:0`;
  }

  private layoutIs(l: readonly number[]): boolean {
    if (l.length !== this.layoutLen) return false;
    for (let i = 0; i < l.length; i++) if (l[i] !== this.layout[i]) return false;
    return true;
  }
}

const OPT_NAMES: Record<number, string> = {
  0: 'eol',
  1: 'nop',
  2: 'mss',
  3: 'ws',
  4: 'sok',
  5: 'sack',
  8: 'ts',
};

/** The initial TTL a received TTL was most likely sent with. */
export function initialTtl(ttl: number): number {
  return ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

// ---------------------------------------------------------------------------------------------
// HTTP User-Agent: the platform part only.

const WIN_NT: Record<string, string> = {
  '10.0': 'Windows 10/11',
  '6.3': 'Windows 8.1',
  '6.2': 'Windows 8',
  '6.1': 'Windows 7',
  '6.0': 'Windows Vista',
  '5.2': 'Windows XP',
  '5.1': 'Windows XP',
};

type UaRule = readonly [RegExp, (m: RegExpExecArray) => string, OsFamily, number];

/** First match wins: phones before desktops (an Android UA also says Linux). */
const UA_RULES: readonly UaRule[] = [
  [/\b(?:iPhone|iPad|iPod)\b.*?\bOS (\d+)[_\d]* like Mac OS X/, (m) => `iOS ${m[1]}`, 'ios', 70],
  [/\bAndroid (\d+)/, (m) => `Android ${m[1]}`, 'android', 70],
  [/\bAndroid\b/, () => 'Android', 'android', 65],
  [/\bCrOS\b/, () => 'ChromeOS', 'chromeos', 70],
  [/\bWindows NT (\d+\.\d+)/, (m) => WIN_NT[m[1]!] ?? 'Windows', 'windows', 70],
  [
    /^(?:Microsoft-CryptoAPI|Windows-Update-Agent|Microsoft-Delivery-Optimization|Microsoft BITS|Microsoft-WNS)\//,
    () => 'Windows',
    'windows',
    60,
  ],
  // iPadOS 13+ Safari says Macintosh by default, hence less than an iPhone token.
  [/\bMacintosh\b.*\bMac OS X\b/, () => 'macOS', 'macos', 60],
  [
    /\b(Ubuntu|Fedora|Debian|CentOS|Red Hat|openSUSE|Arch Linux|Linux Mint)\b/,
    (m) => `Linux (${m[1]})`,
    'linux',
    60,
  ],
  [/\bX11\b.*\bLinux\b|\bLinux (?:x86_64|i686|aarch64)\b/, () => 'Linux', 'linux', 55],
  [/\bFreeBSD\b/, () => 'FreeBSD', 'bsd', 60],
];

/**
 * Guesses by User-Agent: a network's clients send a few hundred distinct ones thousands of
 * times, and ten regular expressions per request were most of the profiler's cost. Bounded:
 * emptied when full (`uaMemo.evictions` counts the entries dropped).
 */
const UA_MEMO_CAP = 2048;
const uaGuesses = new Map<string, OsGuess | null>();
export const uaMemo = { hits: 0, misses: 0, evictions: 0 };

/** The operating system a User-Agent claims, or null when it names none. */
export function userAgentGuess(ua: string): OsGuess | null {
  const m = uaGuesses.get(ua);
  if (m !== undefined) {
    uaMemo.hits++;
    return m;
  }
  uaMemo.misses++;
  const g = guessUserAgent(ua);
  // Long ones are kept out: they bound the memo's bytes, and real browsers' fit.
  if (ua.length <= 512) {
    if (uaGuesses.size >= UA_MEMO_CAP) {
      uaMemo.evictions += uaGuesses.size;
      uaGuesses.clear();
    }
    uaGuesses.set(ua, g);
  }
  return g;
}

function guessUserAgent(ua: string): OsGuess | null {
  for (const [re, name, family, confidence] of UA_RULES) {
    const m = re.exec(ua);
    if (m) return { value: name(m), family, confidence };
  }
  return null;
}
