import { describe, expect, it } from 'vitest';
import {
  dwell,
  emptyFeedForm,
  extraTypes,
  type FeedForm,
  feedBody,
  flowSightingsFilter,
  sightingBuckets,
  valueKind,
} from './intel';

const form = (over: Partial<FeedForm>): FeedForm => ({ ...emptyFeedForm(), name: 'abuse', ...over });

describe('what the lookup panel can ask about', () => {
  it('tells addresses, networks, domains, URLs, hashes and fingerprints apart', () => {
    expect(valueKind('203.0.113.7')).toBe('ipv4');
    expect(valueKind(' 2001:db8::1 ')).toBe('ipv6');
    expect(valueKind('::ffff:10.0.0.1')).toBe('ipv6');
    expect(valueKind('10.0.0.0/8')).toBe('cidr');
    expect(valueKind('2001:db8::/32')).toBe('cidr');
    expect(valueKind('evil.example.com')).toBe('domain');
    expect(valueKind('https://evil.example.com/x?y=1')).toBe('url');
    expect(valueKind('evil.example.com/payload.bin')).toBe('url');
    expect(valueKind('d41d8cd98f00b204e9800998ecf8427e')).toBe('md5');
    expect(valueKind('da39a3ee5e6b4b0d3255bfef95601890afd80709')).toBe('sha1');
    expect(valueKind('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe('sha256');
    expect(valueKind('t13d1516h2_8daaf6152771_b186095e22b6')).toBe('ja4');
    expect(valueKind('ops@evil.example.com')).toBe('email');
  });

  it('leaves what no indicator can be to the plain search', () => {
    for (const v of [
      '',
      '443',
      'google',
      '256.1.1.1',
      '10.0.0.0/33',
      '02:00:00:00:00:01',
      '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
      'two words.com',
      'abc123',
      '-bad-.com',
      'example.123',
    ])
      expect(valueKind(v), v).toBeNull();
  });

  it('asks for JA3 separately when 32 hex digits may be a JA3 rather than a file hash', () => {
    expect(extraTypes('md5')).toEqual(['ja3', 'ja3s']);
    expect(extraTypes('sha256')).toEqual([]);
    expect(extraTypes('ipv4')).toEqual([]);
  });
});

describe('the add-feed form', () => {
  it('sends a CSV feed from a file with its column mapping', () => {
    const b = feedBody(
      form({
        where: 'file',
        location: '/tmp/iocs.csv',
        schedule: '0',
        severity: '80',
        columns: { ...emptyFeedForm().columns, value: 'indicator', type: 'type', confidence: '3' },
      }),
    );
    expect(b).toEqual({
      body: {
        name: 'abuse',
        format: 'csv',
        file: '/tmp/iocs.csv',
        schedule: 0,
        severity: 80,
        mapping: { value: 'indicator', type: 'type', confidence: 3, header: true },
      },
    });
  });

  it('gives every row one type when asked, and reads tab-separated files without a header by column number', () => {
    const b = feedBody(
      form({
        location: 'https://example.org/a.tsv',
        fixedType: 'domain',
        header: false,
        delimiter: '\\t',
        columns: { ...emptyFeedForm().columns, value: '0', type: '1' },
      }),
    );
    expect(b).toEqual({
      body: {
        name: 'abuse',
        format: 'csv',
        url: 'https://example.org/a.tsv',
        schedule: '1h',
        mapping: { value: 0, fixed_type: 'domain', header: false, delimiter: '\t' },
      },
    });
  });

  it('refuses column names without a header line, and bad names, URLs, schedules and scores', () => {
    const named = feedBody(form({ location: 'https://x.org/a.csv', header: false }));
    expect(named).toEqual({ error: expect.stringMatching(/header/) });
    expect(feedBody(form({ name: 'a b', location: 'https://x.org' }))).toEqual({
      error: expect.stringMatching(/^Name/),
    });
    expect(feedBody(form({ location: 'ftp://x.org/a' }))).toEqual({ error: expect.stringMatching(/^URL/) });
    expect(feedBody(form({ location: 'https://x.org', schedule: 'hourly' }))).toEqual({
      error: expect.stringMatching(/^Schedule/),
    });
    expect(feedBody(form({ location: 'https://x.org', confidence: '101' }))).toEqual({
      error: expect.stringMatching(/^Confidence/),
    });
    expect(
      feedBody(form({ location: 'https://x.org', columns: { ...emptyFeedForm().columns, value: ' ' } })),
    ).toEqual({ error: expect.stringMatching(/value/) });
    expect(feedBody(form({ format: 'taxii', where: 'file', location: '/x' }))).toEqual({
      error: expect.stringMatching(/URL/),
    });
  });

  it('sends only the keys of the kind chosen (the server refuses the others)', () => {
    expect(feedBody(form({ format: 'list', location: 'https://x.org/ips.txt', fixedType: 'ipv4' }))).toEqual({
      body: { name: 'abuse', format: 'list', url: 'https://x.org/ips.txt', schedule: '1h', type: 'ipv4' },
    });
    expect(
      feedBody(
        form({
          format: 'taxii',
          location: 'https://taxii.example/',
          collection: 'indicators',
          addedAfter: '2024-01-01T00:00:00Z',
          token: 'secret',
        }),
      ),
    ).toEqual({
      body: {
        name: 'abuse',
        format: 'taxii',
        url: 'https://taxii.example/',
        schedule: '1h',
        collection: 'indicators',
        added_after: '2024-01-01T00:00:00Z',
        auth: { type: 'token', token: 'secret', scheme: 'Bearer' },
      },
    });
    expect(
      feedBody(form({ format: 'misp', location: 'https://misp.example/feed', toIdsOnly: false, token: 'k' })),
    ).toEqual({
      body: {
        name: 'abuse',
        format: 'misp',
        url: 'https://misp.example/feed',
        schedule: '1h',
        to_ids_only: false,
        auth: { type: 'token', token: 'k' },
      },
    });
    expect(feedBody(form({ format: 'stix', where: 'file', location: '/b.json', schedule: '' }))).toEqual({
      body: { name: 'abuse', format: 'stix', file: '/b.json' },
    });
  });
});

describe('sightings over time', () => {
  it('counts sightings per bucket with a nice step, zero where nothing was seen', () => {
    const from = Date.parse('2024-05-01T00:00:00Z');
    const b = sightingBuckets(
      ['2024-05-01T00:10:00Z', '2024-05-01T00:50:00Z', '2024-05-01T02:30:00Z', '2024-05-02T00:00:00Z'],
      from,
      from + 3 * 3600_000,
      10,
    );
    expect(b.step).toBe(3600);
    expect(b.xs).toEqual([from / 1000, from / 1000 + 3600, from / 1000 + 7200]);
    expect(b.counts).toEqual([2, 0, 1]);
  });
});

describe('small pieces', () => {
  it('says how long something has been here', () => {
    expect(dwell(0)).toBe('0 s');
    expect(dwell(59)).toBe('59 s');
    expect(dwell(3600)).toBe('1 h');
    expect(dwell(3 * 86_400 + 4 * 3600 + 59)).toBe('3 d 4 h');
    expect(dwell(725)).toBe('12 min 5 s');
    expect(dwell(Number.NaN)).toBe('–');
  });

  it('finds the sightings of a flow by its id or its Community ID', () => {
    expect(flowSightingsFilter('42', null)).toBe('record_id = "42"');
    expect(flowSightingsFilter('42', '1:a"b=')).toBe('record_id = "42" or community_id = "1:a\\"b="');
  });
});
