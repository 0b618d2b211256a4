/**
 * From a host name to the service it belongs to: "www.google.de" → "google",
 * "scontent.fbcdn.net" → "facebook"; otherwise its registrable domain ("fg2.weberlab.de" →
 * "weberlab.de").
 */

const BY_DOMAIN: Record<string, string> = {
  'googleapis.com': 'google',
  'gstatic.com': 'google',
  'googlevideo.com': 'google',
  'youtube.com': 'google',
  'ytimg.com': 'google',
  'ggpht.com': 'google',
  'googleusercontent.com': 'google',
  '1e100.net': 'google',
  'doubleclick.net': 'google',
  'googlesyndication.com': 'google',
  'gvt1.com': 'google',
  'gvt2.com': 'google',
  'android.com': 'google',
  'googletagmanager.com': 'google',
  'google-analytics.com': 'google',
  'fbcdn.net': 'facebook',
  'facebook.net': 'facebook',
  'fb.com': 'facebook',
  'instagram.com': 'instagram',
  'cdninstagram.com': 'instagram',
  'whatsapp.net': 'whatsapp',
  'whatsapp.com': 'whatsapp',
  'live.com': 'microsoft',
  'msn.com': 'microsoft',
  'windows.com': 'microsoft',
  'windowsupdate.com': 'microsoft',
  'office.com': 'microsoft',
  'office365.com': 'microsoft',
  'office.net': 'microsoft',
  'azure.com': 'microsoft',
  'azureedge.net': 'microsoft',
  'bing.com': 'microsoft',
  'skype.com': 'microsoft',
  'msftncsi.com': 'microsoft',
  'outlook.com': 'microsoft',
  'sharepoint.com': 'microsoft',
  'microsoftonline.com': 'microsoft',
  'xboxlive.com': 'microsoft',
  'icloud.com': 'apple',
  'mzstatic.com': 'apple',
  'apple-dns.net': 'apple',
  'aaplimg.com': 'apple',
  'cdn-apple.com': 'apple',
  'amazonaws.com': 'amazon',
  'cloudfront.net': 'amazon',
  'a2z.com': 'amazon',
  'media-amazon.com': 'amazon',
  'nflxvideo.net': 'netflix',
  'nflximg.net': 'netflix',
  'nflxso.net': 'netflix',
  'nflxext.com': 'netflix',
  'cloudflare-dns.com': 'cloudflare',
  'cloudflare-ech.com': 'cloudflare',
  'one.one.one.one': 'cloudflare',
  'akamaihd.net': 'akamai',
  'akamaiedge.net': 'akamai',
  'akamaized.net': 'akamai',
  'akamai.net': 'akamai',
  'edgekey.net': 'akamai',
  'twimg.com': 'twitter',
  'x.com': 'twitter',
  't.co': 'twitter',
  'githubusercontent.com': 'github',
  'githubassets.com': 'github',
  'zoom.us': 'zoom',
  'slack-edge.com': 'slack',
  'dropboxapi.com': 'dropbox',
  'tiktokcdn.com': 'tiktok',
  'wikimedia.org': 'wikipedia',
  'spotifycdn.com': 'spotify',
};

/** Second-level labels that name the service under any public suffix (google.de, amazon.co.uk). */
const BRANDS = new Set([
  'google',
  'facebook',
  'microsoft',
  'apple',
  'amazon',
  'netflix',
  'cloudflare',
  'akamai',
  'twitter',
  'github',
  'yahoo',
  'instagram',
  'whatsapp',
  'linkedin',
  'dropbox',
  'slack',
  'tiktok',
  'wikipedia',
  'spotify',
  'zoom',
  'ebay',
  'paypal',
  'reddit',
  'baidu',
  'yandex',
  'adobe',
  'mozilla',
  'ubuntu',
  'debian',
]);

/** Public suffixes of two labels common enough to matter (not the full Public Suffix List). */
const TWO_LABEL_SUFFIXES = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'com.au',
  'net.au',
  'org.au',
  'co.jp',
  'ne.jp',
  'or.jp',
  'co.nz',
  'co.kr',
  'com.br',
  'com.cn',
  'net.cn',
  'com.tw',
  'com.hk',
  'co.in',
  'co.za',
  'com.mx',
  'com.ar',
  'com.tr',
  'com.sg',
]);

export function registrableDomain(host: string): string | null {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === '' || /^[0-9.]+$/.test(h) || h.includes(':')) return null;
  const labels = h.split('.');
  if (labels.length < 2) return h;
  const last2 = labels.slice(-2).join('.');
  if (TWO_LABEL_SUFFIXES.has(last2) && labels.length >= 3) return labels.slice(-3).join('.');
  return last2;
}

/**
 * Services of the hosts seen last (SNI, Host and DNS names repeat from flow to flow): the
 * lowercasing, splitting and joining are then done once per host, not once per flow. Emptied
 * when full: a stream of distinct names costs what it did without the memo.
 */
const SERVICE_MEMO_CAP = 8192;
const serviceMemo = new Map<string, string | null>();

export function serviceOfHost(host: string): string | null {
  const m = serviceMemo.get(host);
  if (m !== undefined) return m;
  const s = serviceOf(host);
  if (host.length > 255) return s; // longer than any DNS name: not kept
  if (serviceMemo.size >= SERVICE_MEMO_CAP) serviceMemo.clear();
  serviceMemo.set(host, s);
  return s;
}

function serviceOf(host: string): string | null {
  const d = registrableDomain(host);
  if (d === null) return null;
  const known = BY_DOMAIN[d];
  if (known !== undefined) return known;
  const label = d.split('.')[0]!;
  return BRANDS.has(label) ? label : d;
}
