import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCef, parseCefMessage } from './cef.js';
import { parseEveLine } from './eve.js';
import { parseIsoMs } from './fields.js';
import { parseFirepower } from './firepower.js';
import { parseVpnLine, parseWindowsLogon } from './identity.js';
import { parseLeef, parseLeefMessage } from './leef.js';
import { parseSyslogPayload } from './payload.js';
import { parseSyslog } from './syslog.js';
import type { Parsed, SecurityEvent } from './types.js';
import { compileMapping, DEFAULT_WEBHOOK_MAPPING, parseWebhookObject } from './webhook.js';

function ev(p: Parsed): SecurityEvent {
  assert.equal(p.kind, 'event', `expected an event, got ${JSON.stringify(p)}`);
  return p as SecurityEvent;
}

describe('Suricata EVE', () => {
  // The example alert of Suricata's user guide, "Eve JSON Format"
  // (https://docs.suricata.io/en/latest/output/eve/eve-json-format.html), on one line.
  const DOC =
    '{"timestamp":"2017-04-07T22:24:37.251547+0100","flow_id":586497171462735,"pcap_cnt":53381,"event_type":"alert","src_ip":"192.168.2.14","src_port":50096,"dest_ip":"209.53.113.5","dest_port":80,"proto":"TCP","metadata":{"flowbits":["http.dottedquadhost"]},"tx_id":4,"alert":{"action":"allowed","gid":1,"signature_id":2018358,"rev":10,"signature":"ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1","category":"Potentially Bad Traffic","severity":2},"app_proto":"http"}';

  it('reads the documented example alert', () => {
    const e = ev(parseEveLine(DOC));
    assert.equal(e.source, 'suricata');
    assert.equal(e.title, 'ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1');
    assert.equal(e.signature_id, 2018358);
    assert.equal(e.signature, '1:2018358');
    // 22:24:37.251547 at +01:00 is 21:24:37.251 UTC.
    assert.equal(new Date(e.ts).toISOString(), '2017-04-07T21:24:37.251Z');
    assert.deepEqual(
      [e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.proto],
      ['192.168.2.14', 50096, '209.53.113.5', 80, 6],
    );
    assert.equal(e.severity, 55); // severity 2 → medium
    assert.equal(e.category, 'ids'); // "Potentially Bad Traffic" is not one category
    assert.equal(e.evidence.flow_id, 586497171462735);
    assert.equal(e.evidence.rev, 10);
    assert.equal(e.evidence.classification, 'Potentially Bad Traffic');
    assert.match(e.community_id!, /^1:[A-Za-z0-9+/]{27}=$/);
  });

  it('computes the Community ID when the event lacks it (spec vector)', () => {
    // community-id-spec README: TCP 128.232.110.120:34855 → 66.35.250.204:80.
    const line = JSON.stringify({
      timestamp: '2024-01-18T10:00:00.123456+0000',
      event_type: 'alert',
      src_ip: '128.232.110.120',
      src_port: 34855,
      dest_ip: '66.35.250.204',
      dest_port: 80,
      proto: 'TCP',
      vlan: [110],
      alert: { signature_id: 1, signature: 'x', category: 'Detection of a Network Scan', severity: 1 },
    });
    const e = ev(parseEveLine(line));
    assert.equal(e.community_id, '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
    assert.equal(e.vlan, 110);
    assert.equal(e.category, 'scan');
    assert.equal(e.severity, 80);
    assert.equal(e.ts, Date.UTC(2024, 0, 18, 10, 0, 0, 123));
  });

  it('keeps the Community ID Suricata wrote', () => {
    const line = DOC.replace('"app_proto"', '"community_id":"1:abc=","app_proto"');
    assert.equal(ev(parseEveLine(line)).community_id, '1:abc=');
  });

  it('counts other event types and refuses broken lines by name', () => {
    assert.deepEqual(parseEveLine('{"timestamp":"2024-01-18T10:00:00Z","event_type":"flow"}'), {
      kind: 'other',
      name: 'eve_flow',
    });
    assert.deepEqual(parseEveLine('{"event_type":"stats"}'), { kind: 'other', name: 'eve_stats' });
    assert.deepEqual(parseEveLine('{"event_type":'), { kind: 'weird', name: 'eve_bad_json' });
    assert.deepEqual(parseEveLine('[1]'), { kind: 'weird', name: 'eve_not_object' });
    assert.deepEqual(parseEveLine('{"event_type":"alert","timestamp":"x","alert":{}}'), {
      kind: 'weird',
      name: 'eve_bad_timestamp',
    });
  });

  it('parses Suricata and RFC 3339 times', () => {
    assert.equal(parseIsoMs('2024-01-18T10:00:00.123456+0000'), Date.UTC(2024, 0, 18, 10, 0, 0, 123));
    assert.equal(parseIsoMs('2003-08-24T05:14:15.000003-07:00'), Date.UTC(2003, 7, 24, 12, 14, 15, 0));
    assert.ok(Number.isNaN(parseIsoMs('2024-13-18T10:00:00Z')));
  });
});

describe('CEF', () => {
  // Examples of the ArcSight "Implementing ArcSight CEF" specification (rev. 25), section
  // "Character Encoding" and the header example.
  it('reads the specification example', () => {
    const e = ev(
      parseCef(
        'Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232',
      ),
    );
    assert.equal(e.detector, 'Security/threatmanager');
    assert.equal(e.title, 'worm successfully stopped');
    assert.equal(e.severity, 100);
    assert.equal(e.signature_id, 100);
    assert.deepEqual([e.src_ip, e.dst_ip, e.src_port], ['10.0.0.1', '2.1.2.2', 1232]);
  });

  it('unescapes pipes and backslashes in the header, = and \\ in the extension', () => {
    const a = parseCefMessage(
      'CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1',
    )!;
    assert.equal(a.name, 'detected a | in message');
    assert.equal(a.ext.get('act'), 'blocked a |');
    assert.equal(a.ext.get('dst'), '1.1.1.1');
    const b = parseCefMessage(
      'CEF:0|security|threatmanager|1.0|100|detected a \\\\ in packet|10|src=10.0.0.1 act=blocked a \\\\ dst=1.1.1.1',
    )!;
    assert.equal(b.name, 'detected a \\ in packet');
    assert.equal(b.ext.get('act'), 'blocked a \\');
    const c = parseCefMessage(
      'CEF:0|security|threatmanager|1.0|100|detected a = in message|10|src=10.0.0.1 act=blocked a \\= dst=1.1.1.1',
    )!;
    assert.equal(c.ext.get('act'), 'blocked a =');
    assert.equal(c.ext.get('dst'), '1.1.1.1');
    const d = parseCefMessage('CEF:0|a|b|1|2|n|3|msg=line one\\nline two rt=1700000000000')!;
    assert.equal(d.ext.get('msg'), 'line one\nline two');
  });

  it('maps severity words and keeps custom strings under their labels', () => {
    const e = ev(
      parseCef(
        'CEF:0|Vendor|IDS|2|sig-7|Trojan beacon|Very-High|src=10.1.1.1 dst=10.2.2.2 dpt=443 proto=TCP rt=Jan 18 2024 10:00:00 UTC cs1Label=policy cs1=Default Policy cat=/Malware',
      ),
    );
    assert.equal(e.severity, 95);
    assert.equal(e.signature_id, null);
    assert.equal(e.signature, 'sig-7');
    assert.equal(e.evidence.policy, 'Default Policy');
    assert.equal(e.evidence.cat, '/Malware');
    assert.equal(e.proto, 6);
    assert.equal(e.ts, Date.UTC(2024, 0, 18, 10));
  });

  it('refuses what is not CEF', () => {
    assert.deepEqual(parseCef('CEF:0|only|three'), { kind: 'weird', name: 'cef_bad_header' });
    assert.deepEqual(parseCef('hello'), { kind: 'weird', name: 'cef_missing' });
  });
});

describe('LEEF', () => {
  // IBM QRadar "Log Event Extended Format (LEEF) Version 2" guide, "LEEF event components".
  it('reads the LEEF 1.0 example (tab-separated)', () => {
    const e = ev(
      parseLeef(
        'LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black',
      ),
    );
    assert.equal(e.detector, 'Microsoft/MSExchange');
    assert.deepEqual(
      [e.src_ip, e.dst_ip, e.src_port, e.dst_port, e.severity],
      ['192.0.2.0', '172.50.123.1', 81, 21, 50],
    );
    assert.equal(e.src_user, 'joe.black');
    assert.equal(e.evidence.cat, 'anomaly');
    assert.equal(e.signature_id, 15345);
  });

  it('reads the LEEF 2.0 example with a caret delimiter, and hex delimiters', () => {
    const e = ev(
      parseLeef(
        'LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21',
      ),
    );
    assert.deepEqual([e.src_ip, e.dst_ip, e.src_port, e.dst_port], ['10.0.1.8', '10.0.0.5', 81, 21]);
    const t = parseLeefMessage('LEEF:2.0|V|P|1|7|x09|src=10.0.0.1\tdst=10.0.0.2')!;
    assert.equal(t.delimiter, '\t');
    assert.equal(t.attrs.get('dst'), '10.0.0.2');
    const c = parseLeefMessage('LEEF:2.0|V|P|1|7|0x5E|src=10.0.0.1^dst=10.0.0.2')!;
    assert.equal(c.delimiter, '^');
  });

  it('reads devTime by its devTimeFormat', () => {
    const e = ev(
      parseLeef(
        'LEEF:2.0|V|P|1|7|^|src=10.0.0.1^devTime=2024-01-18 10:00:01.250+0100^devTimeFormat=yyyy-MM-dd HH:mm:ss.SSSZ',
      ),
    );
    assert.equal(e.ts, Date.UTC(2024, 0, 18, 9, 0, 1, 250));
    const d = ev(parseLeef('LEEF:1.0|V|P|1|7|src=10.0.0.1\tdevTime=Jan 18 2024 10:00:00.000 UTC'));
    assert.equal(d.ts, Date.UTC(2024, 0, 18, 10));
  });
});

describe('syslog headers', () => {
  const NOW = Date.UTC(2003, 9, 12);
  // RFC 5424 section 6.5, examples 1–4 (BOM shown as U+FEFF).
  it('reads the RFC 5424 examples', () => {
    const a = parseSyslog(
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8",
    )!;
    assert.deepEqual(
      [a.rfc, a.facility, a.severity, a.host, a.app, a.procid, a.msgid],
      [5424, 4, 2, 'mymachine.example.com', 'su', null, 'ID47'],
    );
    assert.equal(a.ts, Date.UTC(2003, 9, 11, 22, 14, 15, 3));
    assert.equal(a.msg, "'su root' failed for lonvick on /dev/pts/8");
    const b = parseSyslog(
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    )!;
    assert.deepEqual([b.host, b.app, b.procid, b.msgid], ['192.0.2.1', 'myproc', '8710', null]);
    assert.equal(b.ts, Date.UTC(2003, 7, 24, 12, 14, 15, 0));
    assert.equal(b.msg, "%% It's time to make the do-nuts.");
    const c = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \uFEFFAn application event log entry...',
    )!;
    assert.deepEqual(c.sd, {
      'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
    });
    assert.equal(c.msg, 'An application event log entry...');
    const d = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    )!;
    assert.deepEqual(d.sd['examplePriority@32473'], { class: 'high' });
    assert.equal(d.msg, '');
  });

  it('unescapes RFC 5424 SD-PARAM values and enforces a required header form', () => {
    const m = parseSyslog(
      '<13>1 2024-01-18T10:00:00Z h a - - [x@1 a="q\\"uote" b="br\\]acket" c="back\\\\slash"] msg',
    )!;
    assert.deepEqual(m.sd['x@1'], { a: 'q"uote', b: 'br]acket', c: 'back\\slash' });
    assert.equal(m.msg, 'msg');
    assert.deepEqual(parseSyslogPayload('<13>Jan 18 10:00:00 h a: CEF:0|V|P|1|2|n|3|', 'rfc5424'), {
      kind: 'weird',
      name: 'syslog_not_rfc5424',
    });
    assert.equal(
      parseSyslogPayload('<13>1 - - - - - - CEF:0|V|P|1|2|n|3|src=10.0.0.1', 'rfc5424').kind,
      'event',
    );
  });

  // RFC 3164 section 5.4, examples.
  it('reads the RFC 3164 examples', () => {
    const a = parseSyslog(
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      NOW,
    )!;
    assert.deepEqual([a.rfc, a.host, a.app, a.severity], [3164, 'mymachine', 'su', 2]);
    assert.equal(a.ts, Date.UTC(2003, 9, 11, 22, 14, 15));
    assert.equal(a.msg, "'su root' failed for lonvick on /dev/pts/8");
    const b = parseSyslog('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!', NOW)!;
    assert.deepEqual([b.host, b.msg], ['10.0.0.99', 'Use the BFG!']);
    assert.equal(b.ts, Date.UTC(2003, 1, 5, 17, 32, 18)); // the receive year
    const c = parseSyslog(
      "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.",
      NOW,
    )!;
    const e = parseSyslog('<13>Dec 31 23:59:59 h m', Date.UTC(2004, 0, 1))!;
    assert.equal(e.ts, Date.UTC(2003, 11, 31, 23, 59, 59)); // read on New Year's Day: last year
    // RFC 3164 calls this a malformed TIMESTAMP: a relay keeps the rest as the message.
    assert.equal(c.rfc, 3164);
    assert.equal(c.host, 'CST');
    const d = parseSyslog(
      '<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That\'s "sched"',
      NOW,
    )!;
    assert.equal(d.rfc, 0);
    assert.equal(d.pri, 0);
  });

  it('reads the Cisco form with a year and no host', () => {
    const m = parseSyslog(
      '<166>Nov 09 2022 10:01:59: %ASA-6-725007: SSL session with client WAN:1.1.1.1/49486 terminated.',
    )!;
    assert.equal(m.ts, Date.UTC(2022, 10, 9, 10, 1, 59));
    assert.equal(m.host, null);
    assert.match(m.msg, /^%ASA-6-725007/);
  });

  it('routes payloads: CEF and LEEF after a header', () => {
    const c = ev(
      parseSyslogPayload(
        '<134>Jan 18 10:00:00 fw CEF:0|V|P|1|9|blocked|7|src=10.0.0.1 dst=10.0.0.2',
        'auto',
        NOW,
      ),
    );
    assert.equal(c.source, 'cef');
    assert.equal(c.ts, Date.UTC(2003, 0, 18, 10)); // the header's time when the event has none
    const l = ev(
      parseSyslogPayload(
        '<13>1 2024-01-18T11:07:53.520Z 192.168.1.1 - - - - LEEF:1.0|V|P|1|9|src=10.0.0.1',
        'auto',
      ),
    );
    assert.equal(l.source, 'leef');
    assert.deepEqual(parseSyslogPayload('<13>1 - - - - - - plain text', 'auto'), {
      kind: 'other',
      name: 'syslog_unrecognized',
    });
    assert.deepEqual(parseSyslogPayload('<999>x', 'auto'), { kind: 'weird', name: 'syslog_bad_header' });
  });
});

describe('Cisco Firepower / FTD', () => {
  // Field layout of message 430001 (intrusion event) in "Cisco Secure Firewall Threat Defense
  // Syslog Messages" (the "Key: value, " form shared by 430002/430003/430005, whose real lines
  // are in SEKOIA-IO/documentation's Cisco FTD samples); the line is built on that layout.
  const L430001 =
    '<185>Jun 15 21:13:30 ftd01 %FTD-1-430001: EventPriority: High, DeviceUUID: 0bbd9d2c-51ef-11e7-a1b9-d4d6f3c0a29c, InstanceID: 1, FirstPacketSecond: 2017-06-15T21:13:30Z, ConnectionID: 4, AccessControlRuleAction: Allow, SrcIP: 192.168.10.20, DstIP: 10.10.10.5, SrcPort: 50432, DstPort: 80, Protocol: tcp, IngressInterface: inside, EgressInterface: outside, IngressZone: in, EgressZone: out, Priority: 1, GID: 1, SID: 2019284, Revision: 3, Message: ET TROJAN Possible Win32/Kovter, Classification: A Network Trojan was detected, Client: Firefox, ApplicationProtocol: HTTP, IntrusionPolicy: Balanced Security and Connectivity, ACPolicy: Default, AccessControlRuleName: allow-all, InlineResult: Would Have Blocked';

  it('reads a 430001 intrusion event', () => {
    const e = ev(parseSyslogPayload(L430001, 'auto'));
    assert.equal(e.source, 'firepower');
    assert.equal(e.signature, '1:2019284:3');
    assert.equal(e.signature_id, 2019284);
    assert.equal(e.title, 'ET TROJAN Possible Win32/Kovter');
    assert.equal(e.severity, 80);
    assert.deepEqual(
      [e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.proto],
      ['192.168.10.20', 50432, '10.10.10.5', 80, 6],
    );
    assert.equal(e.evidence.classification, 'A Network Trojan was detected');
    assert.equal(e.evidence.action, 'Would Have Blocked');
    assert.equal(e.ts, Date.UTC(2017, 5, 15, 21, 13, 30));
  });

  it('counts connection and file events (430002/430003/430005) without alerts', () => {
    // SEKOIA-IO/documentation, Cisco FTD raw event samples, test_FTD_430002_1.
    const l =
      '%FTD-1-430002: EventPriority: Low, DeviceUUID: 11111111-1111-1111-1111-111111111111, InstanceID: 3, FirstPacketSecond: 2023-07-27T08:13:09Z, ConnectionID: 62230, AccessControlRuleAction: Allow, SrcIP: 2.2.2.2, DstIP: 1.1.1.1, SrcPort: 63853, DstPort: 443, Protocol: tcp';
    assert.deepEqual(parseFirepower(l), { kind: 'other', name: 'firepower_430002' });
  });

  it('reads the Snort-style line', () => {
    const e = ev(
      parseSyslogPayload(
        '<133>Jan 18 10:00:00 fmc SFIMS: [Primary Detection Engine][Policy] [1:2019284:3] "ET TROJAN Possible Win32/Kovter" [Classification: A Network Trojan was detected] [Priority: 1] {TCP} 10.0.0.1:1234 -> 10.0.0.2:80',
        'auto',
        Date.UTC(2024, 0, 20),
      ),
    );
    assert.equal(e.title, 'ET TROJAN Possible Win32/Kovter');
    assert.equal(e.signature, '1:2019284:3');
    assert.deepEqual(
      [e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.proto, e.severity],
      ['10.0.0.1', 1234, '10.0.0.2', 80, 6, 80],
    );
    assert.equal(e.evidence.classification, 'A Network Trojan was detected');
    const v6 = ev(parseFirepower('[1:1:1] "x" [Priority: 3] {UDP} 2001:db8::1:53 -> 2001:db8::2:5353'));
    assert.equal(v6.src_ip, '2001:db8::1');
    assert.equal(v6.src_port, 53);
    const icmp = ev(parseFirepower('[1:2:1] "ping" [Priority: 2] {ICMP} 10.0.0.1 -> 10.0.0.2'));
    assert.deepEqual([icmp.src_ip, icmp.src_port, icmp.proto], ['10.0.0.1', null, 1]);
  });
});

describe('webhook JSON', () => {
  it('reads an ECS document with the default mapping', () => {
    const e = ev(
      parseWebhookObject(
        {
          '@timestamp': '2024-01-18T10:00:00Z',
          source: { ip: '10.0.0.1', port: 5555 },
          destination: { ip: '10.0.0.2', port: 22 },
          network: { transport: 'tcp' },
          rule: { name: 'SSH brute force', id: '5710' },
          event: { severity: 7, id: 'abc' },
          user: { name: 'root' },
        },
        compileMapping(DEFAULT_WEBHOOK_MAPPING),
      ),
    );
    assert.deepEqual(
      [e.title, e.severity, e.signature_id, e.src_user, e.dst_port],
      ['SSH brute force', 70, 5710, 'root', 22],
    );
    assert.equal(e.ts, Date.UTC(2024, 0, 18, 10));
    assert.equal(e.evidence.event_id, 'abc');
  });

  it('follows a configured mapping with array indices', () => {
    const m = compileMapping({ title: 'alerts[0].name', src_ip: 'hosts.1', severity: 'alerts[0].score' });
    const e = ev(parseWebhookObject({ alerts: [{ name: 'Bad', score: 88 }], hosts: ['x', '10.9.9.9'] }, m));
    assert.deepEqual([e.title, e.src_ip, e.severity], ['Bad', '10.9.9.9', 88]);
    assert.deepEqual(parseWebhookObject({ nothing: 1 }, m), { kind: 'weird', name: 'webhook_unmapped' });
  });
});

describe('identity lines', () => {
  it('reads Windows 4624 as key=value and as winlogbeat JSON', () => {
    const a = parseWindowsLogon(
      'EventID=4624 TargetUserName=alice TargetDomainName=CORP IpAddress=10.0.0.5 TargetLogonId=0x3e7a1 LogonType=3',
      Date.UTC(2024, 0, 1),
    );
    assert.deepEqual(a, {
      kind: 'identity',
      ts: Date.UTC(2024, 0, 1),
      ip: '10.0.0.5',
      user: 'alice',
      domain: 'CORP',
      mac: null,
      source: 'windows',
      event: 'start',
      session: '0x3e7a1',
    });
    const b = parseWindowsLogon({
      '@timestamp': '2024-01-01T09:00:00Z',
      winlog: {
        event_id: 4634,
        event_data: { TargetUserName: 'alice', TargetDomainName: 'CORP', TargetLogonId: '0x3e7a1' },
      },
    });
    assert.equal(b.kind, 'identity');
    assert.equal((b as { event: string }).event, 'stop');
    assert.deepEqual(parseWindowsLogon('EventID=4624 TargetUserName=HOST$ IpAddress=10.0.0.5'), {
      kind: 'other',
      name: 'windows_machine_logon',
    });
  });

  it('reads AnyConnect and OpenVPN session lines', () => {
    // SEKOIA-IO/documentation Cisco FTD samples (test_FTD_722051_1), with documentation addresses.
    const a = parseVpnLine(
      '%FTD-4-722051: Group <EXAMPLE> User <Username> IP <198.51.100.7> IPv4 Address <10.1.1.5> IPv6 address <::> assigned to session',
      1,
    );
    assert.deepEqual(
      [a.kind, (a as { ip: string }).ip, (a as { user: string }).user],
      ['identity', '10.1.1.5', 'Username'],
    );
    const o = parseVpnLine(
      'alice/198.51.100.9:51234 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)',
      2,
    );
    assert.deepEqual([(o as { ip: string }).ip, (o as { user: string }).user], ['10.8.0.6', 'alice']);
  });
});
