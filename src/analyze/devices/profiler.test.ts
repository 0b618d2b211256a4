import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/errors.js';
import type { HostAttrRecord } from '../../schema/host-attr.js';
import { reverseNameIp } from './names.js';
import { combineOs } from './os-combine.js';
import { dhcpGuess, initialTtl, SynSignature, userAgentGuess } from './os-signatures.js';
import { createHostProfiler } from './profiler.js';

describe('User-Agent platform tokens', () => {
  // Examples from the browsers' own documentation of their UA strings (MDN "User-Agent",
  // Chrome's "User-Agent reduction", Apple's Safari and Google's Android WebView pages).
  const cases: [string, string | null][] = [
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      'Windows 10/11',
    ],
    ['Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0', 'Windows 7'],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
      'macOS',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
      'iOS 17',
    ],
    [
      'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
      'iOS 16',
    ],
    [
      'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36',
      'Android 13',
    ],
    [
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
      'Android 10',
    ],
    [
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      'ChromeOS',
    ],
    ['Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0', 'Linux (Ubuntu)'],
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      'Linux',
    ],
    ['Microsoft-CryptoAPI/10.0', 'Windows'],
    ['curl/8.4.0', null],
    ['python-requests/2.31.0', null],
  ];
  for (const [ua, want] of cases)
    it(`${want ?? 'nothing'} from ${ua.slice(0, 50)}`, () =>
      assert.equal(userAgentGuess(ua)?.value ?? null, want));
});

describe('SYN signatures', () => {
  const syn = (hex: string, ttl: number, win: number, df = true) => {
    const s = new SynSignature();
    const b = Buffer.from(hex, 'hex');
    s.read(b, 0, b.length, 4, ttl, df, win);
    return s;
  };
  it('Windows 10: mss,nop,ws,nop,nop,sok, 64240, ws 8, TTL 128 after 7 hops', () => {
    // tcpdump: Flags [S], win 64240, options [mss 1460,nop,wscale 8,nop,nop,sackOK]
    const s = syn('020405b4010303080101 0402'.replace(/ /g, ''), 121, 64240);
    assert.deepEqual(s.guess(), { value: 'Windows 10/11', family: 'windows', confidence: 85 });
    assert.equal(s.text(), '4:121+7:0:1460:mss*44,8:mss,nop,ws,nop,nop,sok:df:0');
  });
  it('Linux: mss,sok,ts,nop,ws, mss*20, ws 7', () => {
    // options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]
    const s = syn('020405b40402080a000000010000000001030307', 64, 29200);
    assert.equal(s.guess()?.value, 'Linux 3.x+');
    assert.equal(s.text(), '4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df:0');
  });
  it('an unknown layout is no guess; a cut option is flagged', () => {
    assert.equal(syn('020405b4', 64, 1024).guess(), null);
    assert.equal(syn('020405', 64, 1024).bad, true);
    assert.equal(syn('0303', 64, 1024).bad, true);
  });
  it('initial TTL', () =>
    assert.deepEqual(
      [1, 32, 33, 64, 65, 128, 129, 255].map(initialTtl),
      [32, 32, 64, 64, 128, 128, 255, 255],
    ));
});

describe('DHCP fingerprints', () => {
  it('the list names the Windows version, the vendor class the Android one', () => {
    assert.equal(
      dhcpGuess([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252], 'MSFT 5.0')?.value,
      'Windows 10/11',
    );
    assert.equal(dhcpGuess([1, 3, 6, 15, 26, 28, 51, 58, 59, 43], 'android-dhcp-11')?.value, 'Android 11');
    assert.equal(dhcpGuess([1, 3, 6], 'Cisco Systems, Inc. IP Phone CP-7841')?.family, 'voip');
    assert.equal(dhcpGuess([1, 2, 3, 99], null), null);
  });
  it('a list and a vendor class that disagree lower the confidence', () => {
    const g = dhcpGuess([1, 121, 3, 6, 15, 119, 252], 'MSFT 5.0');
    assert.ok(g && g.confidence < 70);
  });
});

describe('combining sources', () => {
  const e = (source: string, value: string, family: string, confidence: number) => ({
    source,
    value,
    family,
    confidence,
  });
  it('DHCP and SYN outweigh a User-Agent', () => {
    const v = combineOs([
      e('dhcp', 'Windows 10/11', 'windows', 90),
      e('syn', 'Windows', 'windows', 65),
      e('http', 'Linux', 'linux', 70),
    ]);
    assert.equal(v?.name, 'Windows 10/11');
    assert.deepEqual(v?.conflicting, ['http']);
    assert.equal(v?.confidence, 93); // 90 + 10 for the SYN - 7 for the User-Agent
  });
  it('a Linux SYN fits Android; the User-Agent adds the version', () => {
    const v = combineOs([
      e('syn', 'Linux 3.x+', 'linux', 85),
      e('dhcp', 'Android', 'android', 85),
      e('http', 'Android 14', 'android', 70),
    ]);
    assert.deepEqual([v?.name, v?.family, v?.confidence], ['Android 14', 'android', 99]);
  });
  it('an Apple SYN alone stays an umbrella; with an iPhone User-Agent it is iOS', () => {
    assert.equal(combineOs([e('syn', 'macOS or iOS', 'apple', 80)])?.name, 'macOS or iOS');
    assert.equal(
      combineOs([e('syn', 'macOS or iOS', 'apple', 80), e('http', 'iOS 17', 'ios', 70)])?.name,
      'iOS 17',
    );
  });
  it('a User-Agent alone is a weak guess, and nothing is null', () => {
    assert.equal(combineOs([e('http', 'macOS', 'macos', 60)])?.confidence, 60);
    assert.equal(combineOs([]), null);
  });
});

describe('the profiler', () => {
  it('reverse names', () => {
    assert.equal(reverseNameIp('5.0.0.10.in-addr.arpa.'), '10.0.0.5');
    assert.equal(
      reverseNameIp('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa'),
      '4321:0:1:2:3:4:567:89ab',
    );
    assert.equal(reverseNameIp('300.0.0.10.in-addr.arpa'), null);
  });
  it('is bounded: hosts and attributes beyond the caps are emitted, counted and forgotten', () => {
    const out: HostAttrRecord[] = [];
    const p = createHostProfiler((r) => out.push(r as HostAttrRecord), { maxHosts: 3, maxAttrsPerHost: 2 });
    const ptr = (ip: string, name: string, ts: string) =>
      p.onRecord({
        type: 'dns',
        ts,
        server_port: 53,
        client_port: 5000,
        answers: [{ name: `${ip.split('.').reverse().join('.')}.in-addr.arpa`, type: 12, data: name }],
      });
    ptr('10.0.0.1', 'a.example', '2024-01-01T00:00:01.000000000Z');
    ptr('10.0.0.1', 'b.example', '2024-01-01T00:00:02.000000000Z');
    ptr('10.0.0.1', 'c.example', '2024-01-01T00:00:03.000000000Z'); // a.example goes
    for (let i = 2; i <= 5; i++) ptr(`10.0.0.${i}`, `h${i}.example`, `2024-01-01T00:00:0${i + 2}.000000000Z`);
    assert.equal(p.size, 3);
    assert.equal(p.counters.attrsEvicted, 1);
    assert.equal(p.counters.hostsEvicted, 2); // 10.0.0.1 (two names) and 10.0.0.2
    assert.deepEqual(
      out.map((r) => r.value),
      ['a.example', 'b.example', 'c.example', 'h2.example'],
    );
    ptr('10.0.0.5', 'h5.example', '2024-01-01T00:00:09.000000000Z');
    p.finish();
    const h5 = out.find((r) => r.value === 'h5.example')!;
    assert.deepEqual(
      [h5.first_ts, h5.last_ts, h5.observations, h5.source],
      ['2024-01-01T00:00:07.000000000Z', '2024-01-01T00:00:09.000000000Z', 2, 'dns_ptr'],
    );
    assert.equal(p.size, 0);
  });
  it('config errors name the key', () => {
    assert.throws(
      () => createHostProfiler(() => {}, { maxHosts: 0 }),
      (e: unknown) => e instanceof ConfigError && e.key === 'devices.profiler.maxHosts',
    );
  });
});
