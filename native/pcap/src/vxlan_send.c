/*
 * vxlan-send: a paced VXLAN load generator for Vantage's benchmarks and tests (never used by
 * the product). It takes the first Ethernet frames of a pcap file, wraps each in a VXLAN header
 * and sends them over UDP with sendmmsg at a given rate, pass after pass, each pass under a VNI
 * of its own (new flows, as a network makes them), until it has sent --count datagrams or run
 * --seconds. At the end it prints one JSON line: what sendmmsg accepted (`sent`), what failed,
 * its real rate and its own CPU time.
 *
 * Why a process in C: the JavaScript sender (a worker thread calling the addon's sendBatch)
 * took 3-8 us per datagram and never offered more than ~140k/s here. A process of its own also
 * keeps the sender's CPU apart from the receiver's (and, with setsid, in a scheduling group of
 * its own, as a sender on another machine would be). On loopback the kernel delivers each
 * datagram into the receiving socket inside the sender's system call, so that part of the
 * receive path is in this process's CPU time.
 *
 *   vxlan-send --pcap F --to 127.0.0.1:4789 [--frames 100000] [--rate PPS (0: unpaced)]
 *              [--seconds S] [--count N] [--vni 77] [--same-vni] [--batch 64] [--sndbuf B]
 *
 * Exactness: `sent` counts only datagrams the kernel accepted (a datagram refused with an error
 * is counted in `errors` and not sent), so on loopback sent = received + the receiver's socket
 * drops + backlog drops.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024

static void die(const char *m) {
  fprintf(stderr, "vxlan-send: %s\n", m);
  exit(2);
}

static uint32_t rd32(const uint8_t *p, int swap) {
  uint32_t v;
  memcpy(&v, p, 4);
  return swap ? __builtin_bswap32(v) : v;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *pcap = NULL, *to = NULL;
  long frames_max = 100000, batch = 64, vni = 77, sndbuf = 4 << 20;
  double rate = 0, seconds = 0;
  long long count = 0;
  int same_vni = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--same-vni")) {
      same_vni = 1;
      continue;
    }
    if (!v) die("every option but --same-vni takes a value");
    i++;
    if (!strcmp(a, "--pcap")) pcap = v;
    else if (!strcmp(a, "--to")) to = v;
    else if (!strcmp(a, "--frames")) frames_max = atol(v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--count")) count = atoll(v);
    else if (!strcmp(a, "--vni")) vni = atol(v);
    else if (!strcmp(a, "--batch")) batch = atol(v);
    else if (!strcmp(a, "--sndbuf")) sndbuf = atol(v);
    else {
      fprintf(stderr, "vxlan-send: unknown option %s\n", a);
      return 2;
    }
  }
  if (!pcap || !to) die("usage: vxlan-send --pcap FILE --to HOST:PORT [--rate PPS] [--seconds S | --count N]");
  if (seconds <= 0 && count <= 0) die("--seconds or --count is needed");
  if (batch < 1 || batch > MAX_BATCH) die("--batch from 1 to 1024");
  if (frames_max < 1) die("--frames of at least 1");

  /* Destination: "IPv4:PORT" or "[IPv6]:PORT". */
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  char host[64];
  const char *colon = strrchr(to, ':');
  if (!colon || colon - to >= (long)sizeof host) die("--to HOST:PORT");
  memcpy(host, to, (size_t)(colon - to));
  host[colon - to] = 0;
  int port = atoi(colon + 1);
  int family = AF_INET;
  if (host[0] == '[') {
    size_t n = strlen(host);
    if (n < 2 || host[n - 1] != ']') die("--to [IPv6]:PORT");
    memmove(host, host + 1, n - 2);
    host[n - 2] = 0;
    family = AF_INET6;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) die("--to: not an IPv6 address");
    sl = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) die("--to: not an IPv4 address");
    sl = sizeof *a;
  }

  /* The frames: one buffer of VXLAN datagrams back to back, and a table of them. */
  FILE *f = fopen(pcap, "rb");
  if (!f) die("cannot open the pcap file");
  uint8_t gh[24];
  if (fread(gh, 1, 24, f) != 24) die("not a pcap file (short header)");
  uint32_t magic;
  memcpy(&magic, gh, 4);
  int swap;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) swap = 0;
  else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) swap = 1;
  else die("not a classic pcap file (pcapng is not read here)");
  if (rd32(gh + 20, swap) != 1) die("the pcap's link type is not Ethernet");
  size_t cap = 64 << 20, used = 0;
  uint8_t *buf = malloc(cap);
  uint32_t *off = malloc(sizeof(uint32_t) * (size_t)frames_max);
  uint32_t *len = malloc(sizeof(uint32_t) * (size_t)frames_max);
  if (!buf || !off || !len) die("out of memory");
  long n = 0;
  uint8_t rh[16];
  while (n < frames_max && fread(rh, 1, 16, f) == 16) {
    uint32_t caplen = rd32(rh + 8, swap);
    if (caplen > 65535 - 8) die("a frame longer than a UDP datagram holds");
    if (used + 8 + caplen > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die("out of memory");
    }
    uint8_t *d = buf + used;
    d[0] = 0x08;
    memset(d + 1, 0, 7);
    if (fread(d + 8, 1, caplen, f) != caplen) break;
    if (caplen < 14) continue;
    off[n] = (uint32_t)used;
    len[n] = 8 + caplen;
    used += 8 + caplen;
    n++;
  }
  fclose(f);
  if (n == 0) die("no frame in the pcap file");
  struct mmsghdr *msgs = calloc((size_t)n, sizeof *msgs);
  struct iovec *iov = calloc((size_t)n, sizeof *iov);
  if (!msgs || !iov) die("out of memory");
  for (long i = 0; i < n; i++) {
    iov[i].iov_base = buf + off[i];
    iov[i].iov_len = len[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  uint32_t cur_vni = (uint32_t)vni & 0xffffff;
  for (long i = 0; i < n; i++) {
    uint8_t *d = buf + off[i];
    d[4] = (uint8_t)(cur_vni >> 16);
    d[5] = (uint8_t)(cur_vni >> 8);
    d[6] = (uint8_t)cur_vni;
  }

  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int sb = (int)sndbuf;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0) die("connect");
  /* Wake-ups on time: pacing sleeps in steps of tens of microseconds. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  long long sent = 0, errors = 0, calls = 0, passes = 0;
  long i = 0;
  struct rusage ru0, ru;
  getrusage(RUSAGE_SELF, &ru0); /* loading the file is not the sender's cost */
  double t0 = now_s(), end = seconds > 0 ? t0 + seconds : 1e300, lag_max = 0;
  for (;;) {
    double t = now_s();
    if (t >= end || (count > 0 && sent + errors >= count)) break;
    long want = batch;
    if (rate > 0) {
      /* Never ahead of rate x elapsed: sleep until the next batch is due. */
      double due_at = t0 + (double)(sent + errors + batch) / rate;
      if (due_at > t) {
        double d = due_at - t;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
        t = now_s();
      } else if (t - due_at > lag_max) lag_max = t - due_at;
    }
    if (count > 0 && sent + errors + want > count) want = (long)(count - sent - errors);
    if (want > n - i) want = n - i;
    int r = sendmmsg(fd, msgs + i, (unsigned)want, 0);
    calls++;
    if (r < 0) {
      if (errno == EINTR) continue;
      /* The datagram at i failed (e.g. ECONNREFUSED from an earlier ICMP): not sent, skipped. */
      errors++;
      r = 1;
    } else sent += r;
    i += r;
    if (i >= n) {
      i = 0;
      passes++;
      if (!same_vni) {
        cur_vni = ((uint32_t)vni + (uint32_t)passes) & 0xffffff;
        for (long k = 0; k < n; k++) {
          uint8_t *d = buf + off[k];
          d[4] = (uint8_t)(cur_vni >> 16);
          d[5] = (uint8_t)(cur_vni >> 8);
          d[6] = (uint8_t)cur_vni;
        }
      }
    }
  }
  double secs = now_s() - t0;
  getrusage(RUSAGE_SELF, &ru);
  double user = (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (double)(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
  double sys = (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (double)(ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  printf("{\"sent\":%lld,\"errors\":%lld,\"seconds\":%.6f,\"rate\":%.0f,\"asked\":%.0f,\"frames\":%ld,"
         "\"calls\":%lld,\"passes\":%lld,\"lagMaxMs\":%.3f,\"cpuUser\":%.3f,\"cpuSys\":%.3f}\n",
         sent, errors, secs, (double)sent / secs, rate, n, calls, passes, lag_max * 1e3, user, sys);
  close(fd);
  return 0;
}
