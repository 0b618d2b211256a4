#!/usr/bin/python3
"""Writes a capture of hosts announcing themselves, for the host-profiler tests.

Usage: gen_hosts.py OUT.pcap LABELS.json

Each host uses the wire layout its operating system really produces:
- TCP SYN option layouts and windows: Windows 10/11 (64240, ws 8: mss,nop,ws,nop,nop,sok),
  Windows 7 (8192, ws 2), Linux 3.x+ (mss,sok,ts,nop,ws; window 64240 or mss*20, ws 7),
  macOS/iOS (65535, ws 6: mss,nop,ws,nop,nop,ts,sok,eol), FreeBSD (mss,nop,ws,sok,ts),
  OpenBSD (16384: mss,nop,nop,sok,nop,ws,nop,nop,ts); these are the layouts p0f's database
  (/etc/p0f/p0f.fp, labels "s:win:Windows", "s:unix:Linux", "s:unix:Mac OS X", "s:unix:FreeBSD",
  "s:unix:OpenBSD") describes, and p0f is the judge in the test.
- DHCP option 55 lists: Windows 10/11 and Windows 7 (the Windows DHCP client service, vendor
  class "MSFT 5.0"), macOS 12+ and iOS 14+ (Apple's IPConfiguration), Android 13 (DhcpClient,
  vendor class "android-dhcp-13"), Ubuntu's ISC dhclient, a Cisco IP phone (vendor class
  "Cisco Systems, Inc. IP Phone CP-8845"), an HP JetDirect printer. Lists as catalogued by
  Fingerbank (fingerbank.org, "DHCP fingerprints") and seen in vendor captures.
- mDNS announcements (RFC 6762 section 8.3: A, AAAA, reverse PTR, SRV), NetBIOS name
  registrations (RFC 1002 4.2.2) and a positive name query response (4.2.13), a DNS PTR answer.
"""
import json
import sys

from scapy.all import BOOTP, DHCP, DNS, DNSQR, DNSRR, DNSRRSRV, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap
from scapy.layers.netbios import NBNSHeader, NBNSQueryRequest, NBNSQueryResponse, NBNSRegistrationRequest, NBNS_ADD_ENTRY

out, labels_path = sys.argv[1], sys.argv[2]
pkts = []
labels = {"syn": [], "dhcp": [], "names": []}
t = [1_700_000_000.0]


def at(p):
    t[0] += 0.25
    p.time = t[0]
    pkts.append(p)


ROUTER = "02:00:00:00:00:01"
W = [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
W7 = [("MSS", 1460), ("NOP", None), ("WScale", 2), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
LNX = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)]
MAC = [("MSS", 1460), ("NOP", None), ("WScale", 6), ("NOP", None), ("NOP", None), ("Timestamp", (99, 0)),
       ("SAckOK", b""), ("EOL", None)]
FBSD = [("MSS", 1460), ("NOP", None), ("WScale", 6), ("SAckOK", b""), ("Timestamp", (7, 0))]
OBSD = [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b""), ("NOP", None), ("WScale", 3),
        ("NOP", None), ("NOP", None), ("Timestamp", (7, 0))]

# ip, mac, ttl (after hops), window, options, family, our expected value
SYNS = [
    ("10.1.0.10", "02:00:00:00:01:10", 128, 64240, W, "windows"),
    ("10.1.0.11", "02:00:00:00:01:11", 121, 64240, W, "windows"),
    ("10.1.0.12", "02:00:00:00:01:12", 128, 8192, W7, "windows"),
    ("10.1.0.20", "02:00:00:00:01:20", 64, 64240, LNX, "linux"),
    ("10.1.0.21", "02:00:00:00:01:21", 58, 29200, LNX, "linux"),
    ("10.1.0.30", "02:00:00:00:01:30", 64, 65535, MAC, "apple"),
    ("10.1.0.31", "02:00:00:00:01:31", 60, 65535, MAC, "apple"),
    ("10.1.0.40", "02:00:00:00:01:40", 64, 65535, FBSD, "bsd"),
    ("10.1.0.41", "02:00:00:00:01:41", 64, 16384, OBSD, "bsd"),
]
for i, (ip, mac, ttl, win, opts, fam) in enumerate(SYNS):
    at(Ether(src=mac, dst=ROUTER) / IP(src=ip, dst="192.0.2.80", ttl=ttl, flags="DF", id=1000 + i)
       / TCP(sport=40000 + i, dport=80, flags="S", seq=1000 * i + 1, window=win, options=opts))
    labels["syn"].append({"ip": ip, "family": fam})
at(Ether(src="02:00:00:00:01:60", dst=ROUTER) / IPv6(src="2001:db8::60", dst="2001:db8::1", hlim=64)
   / TCP(sport=40100, dport=443, flags="S", seq=77, window=64800, options=[("MSS", 1440)] + LNX[1:]))
labels["syn"].append({"ip": "2001:db8::60", "family": "linux"})

# DHCP clients: DISCOVER, OFFER, REQUEST, ACK.
CLIENTS = [
    ("02:00:00:00:02:01", "10.2.0.101", "DESKTOP-7QK2M1", "MSFT 5.0", [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252], "windows", "Windows 10/11"),
    ("02:00:00:00:02:02", "10.2.0.102", "WIN7-LEGACY", "MSFT 5.0", [1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43], "windows", "Windows 7"),
    ("02:00:00:00:02:03", "10.2.0.103", "alices-MacBook-Pro", None, [1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46], "macos", "macOS"),
    ("02:00:00:00:02:04", "10.2.0.104", "Bobs-iPhone", None, [1, 121, 3, 6, 15, 108, 114, 119, 252], "ios", "iOS/iPadOS"),
    ("02:00:00:00:02:05", "10.2.0.105", "Pixel-7", "android-dhcp-13", [1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108], "android", "Android 13"),
    ("02:00:00:00:02:06", "10.2.0.106", "ubuntu-build", None, [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42], "linux", "Linux (dhclient)"),
    ("02:00:00:00:02:07", "10.2.0.107", "SEP0A1B2C3D4E5F", "Cisco Systems, Inc. IP Phone CP-8845", [1, 66, 6, 3, 15, 150, 35, 151], "voip", "Cisco IP phone"),
    ("02:00:00:00:02:08", "10.2.0.108", "NPI3F2A1B", "Hewlett-Packard JetDirect", [1, 3, 44, 6, 7, 12, 15, 22, 54, 58, 59, 69, 18, 144], "printer", "HP printer"),
]
SERVER = ("10.2.0.1", "02:00:00:00:02:fe")


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


for i, (mac, ip, host, vc, plist, fam, value) in enumerate(CLIENTS):
    xid = 0x1000 + i
    common = [("hostname", host), ("param_req_list", plist)] + ([("vendor_class_id", vc)] if vc else [])
    at(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
       / BOOTP(chaddr=mac_bytes(mac), xid=xid) / DHCP(options=[("message-type", "discover")] + common + ["end"]))
    at(Ether(src=SERVER[1], dst=mac) / IP(src=SERVER[0], dst=ip) / UDP(sport=67, dport=68)
       / BOOTP(op=2, chaddr=mac_bytes(mac), xid=xid, yiaddr=ip)
       / DHCP(options=[("message-type", "offer"), ("server_id", SERVER[0]), ("lease_time", 3600), "end"]))
    fqdn = [("client_FQDN", b"\x00\x00\x00" + f"{host.lower()}.corp.example".encode())] if i == 0 else []
    at(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
       / BOOTP(chaddr=mac_bytes(mac), xid=xid)
       / DHCP(options=[("message-type", "request"), ("requested_addr", ip), ("server_id", SERVER[0])] + common + fqdn + ["end"]))
    at(Ether(src=SERVER[1], dst=mac) / IP(src=SERVER[0], dst=ip) / UDP(sport=67, dport=68)
       / BOOTP(op=2, chaddr=mac_bytes(mac), xid=xid, yiaddr=ip)
       / DHCP(options=[("message-type", "ack"), ("server_id", SERVER[0]), ("lease_time", 3600), "end"]))
    labels["dhcp"].append({"ip": ip, "mac": mac, "family": fam, "value": value, "hostname": host})

# The Windows 10 client also browses (SYN + HTTP with its User-Agent).
WIN = CLIENTS[0]
cl, sv = (WIN[1], 50000), ("192.0.2.80", 80)
req = (b"GET /update HTTP/1.1\r\nHost: updates.example\r\n"
       b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       b"Chrome/120.0.0.0 Safari/537.36\r\n\r\n")
resp = b"HTTP/1.1 204 No Content\r\n\r\n"
e1 = Ether(src=WIN[0], dst=ROUTER)
e2 = Ether(src=ROUTER, dst=WIN[0])
at(e1 / IP(src=cl[0], dst=sv[0], ttl=128, flags="DF") / TCP(sport=cl[1], dport=sv[1], flags="S", seq=100, window=64240, options=W))
at(e2 / IP(src=sv[0], dst=cl[0], ttl=64, flags="DF") / TCP(sport=sv[1], dport=cl[1], flags="SA", seq=500, ack=101, window=65160, options=[("MSS", 1460)]))
at(e1 / IP(src=cl[0], dst=sv[0], ttl=128, flags="DF") / TCP(sport=cl[1], dport=sv[1], flags="A", seq=101, ack=501, window=1026))
at(e1 / IP(src=cl[0], dst=sv[0], ttl=128, flags="DF") / TCP(sport=cl[1], dport=sv[1], flags="PA", seq=101, ack=501, window=1026) / Raw(req))
at(e2 / IP(src=sv[0], dst=cl[0], ttl=64, flags="DF") / TCP(sport=sv[1], dport=cl[1], flags="PA", seq=501, ack=101 + len(req), window=501) / Raw(resp))
at(e1 / IP(src=cl[0], dst=sv[0], ttl=128, flags="DF") / TCP(sport=cl[1], dport=sv[1], flags="FA", seq=101 + len(req), ack=501 + len(resp), window=1026))

# mDNS announcements (responses, multicast 224.0.0.251 / ff02::fb).
MDNS = ("10.3.0.20", "02:00:00:00:03:20")
at(Ether(src=MDNS[1], dst="01:00:5e:00:00:fb") / IP(src=MDNS[0], dst="224.0.0.251", ttl=255) / UDP(sport=5353, dport=5353)
   / DNS(id=0, qr=1, aa=1, qd=None, an=DNSRR(rrname="alices-macbook.local.", type="A", rclass=0x8001, ttl=120, rdata=MDNS[0])
         / DNSRR(rrname="20.0.3.10.in-addr.arpa.", type="PTR", rclass=0x8001, ttl=120, rdata="alices-macbook.local.")
         / DNSRR(rrname="alices-macbook.local.", type="AAAA", rclass=0x8001, ttl=120, rdata="fe80::20")))
at(Ether(src="02:00:00:00:03:21", dst="01:00:5e:00:00:fb") / IP(src="10.3.0.21", dst="224.0.0.251", ttl=255) / UDP(sport=5353, dport=5353)
   / DNS(id=0, qr=1, aa=1, qd=None,
         an=DNSRR(rrname="_ipp._tcp.local.", type="PTR", ttl=4500, rdata="Office Printer._ipp._tcp.local."),
         ar=DNSRRSRV(rrname="Office Printer._ipp._tcp.local.", ttl=120, priority=0, weight=0, port=631, target="hp-officejet.local.")
         / DNSRR(rrname="hp-officejet.local.", type="A", rclass=0x8001, ttl=120, rdata="10.3.0.21")))
# A query is not an announcement: nothing to learn.
at(Ether(src="02:00:00:00:03:22", dst="01:00:5e:00:00:fb") / IP(src="10.3.0.22", dst="224.0.0.251", ttl=255) / UDP(sport=5353, dport=5353)
   / DNS(id=0, qr=0, qd=DNSQR(qname="whoever.local.", qtype="A")))

# NetBIOS: registrations (broadcast), a group name, a query and its positive response.
NB = ("10.4.0.30", "02:00:00:00:04:30")
at(Ether(src=NB[1], dst="ff:ff:ff:ff:ff:ff") / IP(src=NB[0], dst="10.4.0.255") / UDP(sport=137, dport=137)
   / NBNSHeader(NAME_TRN_ID=1) / NBNSRegistrationRequest(QUESTION_NAME="WIN-DESK01", SUFFIX="workstation", NB_ADDRESS=NB[0]))
at(Ether(src=NB[1], dst="ff:ff:ff:ff:ff:ff") / IP(src=NB[0], dst="10.4.0.255") / UDP(sport=137, dport=137)
   / NBNSHeader(NAME_TRN_ID=2) / NBNSRegistrationRequest(QUESTION_NAME="WIN-DESK01", SUFFIX="file server service", NB_ADDRESS=NB[0]))
at(Ether(src=NB[1], dst="ff:ff:ff:ff:ff:ff") / IP(src=NB[0], dst="10.4.0.255") / UDP(sport=137, dport=137)
   / NBNSHeader(NAME_TRN_ID=3) / NBNSRegistrationRequest(QUESTION_NAME="WORKGROUP", SUFFIX="workstation", G=1, NB_ADDRESS=NB[0]))
at(Ether(src="02:00:00:00:04:31", dst="ff:ff:ff:ff:ff:ff") / IP(src="10.4.0.31", dst="10.4.0.255") / UDP(sport=137, dport=137)
   / NBNSHeader(NAME_TRN_ID=4) / NBNSQueryRequest(QUESTION_NAME="FILESRV", SUFFIX="file server service"))
at(Ether(src="02:00:00:00:04:32", dst="02:00:00:00:04:31") / IP(src="10.4.0.32", dst="10.4.0.31") / UDP(sport=137, dport=137)
   / NBNSHeader(NAME_TRN_ID=4) / NBNSQueryResponse(RR_NAME="FILESRV", SUFFIX="file server service", ADDR_ENTRY=[NBNS_ADD_ENTRY(NB_ADDRESS="10.4.0.32")]))

# DNS: a PTR answer names 10.2.0.101 from the resolver's side.
at(Ether(src=WIN[0], dst="02:00:00:00:05:53") / IP(src=WIN[1], dst="10.5.0.53") / UDP(sport=53000, dport=53)
   / DNS(id=78, rd=1, qd=DNSQR(qname="101.0.2.10.in-addr.arpa.", qtype="PTR")))
at(Ether(src="02:00:00:00:05:53", dst=WIN[0]) / IP(src="10.5.0.53", dst=WIN[1]) / UDP(sport=53, dport=53000)
   / DNS(id=78, qr=1, rd=1, ra=1, qd=DNSQR(qname="101.0.2.10.in-addr.arpa.", qtype="PTR"),
         an=DNSRR(rrname="101.0.2.10.in-addr.arpa.", type="PTR", ttl=300, rdata="desktop-7qk2m1.corp.example.")))

wrpcap(out, pkts)
with open(labels_path, "w") as f:
    json.dump(labels, f, indent=1)
