/*
 * vantage-pcap: the smallest binding Vantage needs from libpcap and the socket API.
 *
 *   open(iface, opts)        live capture handle (pcap_create + options + pcap_activate)
 *   read(h, buf) -> Promise  fill buf with a batch of packet records on a pool thread
 *   stats(h)                 kernel counters: received, dropped, ifDropped
 *   inject(h, buf)           send one frame on the interface
 *   rawOpen(proto, bindIp)   raw IPv4 socket for one IP protocol (GRE = 47): mirror receivers
 *   rawSend(h, buf, dstIp)   send one payload of that protocol (the kernel adds the IP header)
 *   udpOpen(family, ip, port, rcvbuf, sndbuf)   non-blocking UDP socket (IPv4 or IPv6), bound
 *   unixDgramOpen(path, rcvbuf)   non-blocking unix datagram socket bound to path (Suricata's
 *                            eve-log unix_dgram); read with poll + recvBatch like UDP
 *   connect(h, ip, port)     fix the destination of a UDP or raw socket (for sendBatch)
 *   address(h)               {address, port} the socket is bound to
 *   poll(h, fn)              call fn() whenever the socket is readable (uv_poll_t, level triggered)
 *   recvBatch(h, buf, meta, slot, headroom) -> n   recvmmsg, non-blocking (see below)
 *   sendBatch(h, buf, table, first, count) -> n    sendmmsg to the connected destination
 *   udpRingStart(h, buf, opts, fn) -> bytes   a thread drains the socket (UDP, or raw with opts.gre)
 *                            into a ring in buf
 *   close(h)
 *   execve(path, argv, env)  replace this process's image (same pid); returns only on failure
 *   mallocInfo()             glibc's heap over all arenas: bytes in use, free, mapped
 *   mallocMmapThreshold(n)   glibc's M_MMAP_THRESHOLD: blocks of n bytes or more get mappings of
 *                            their own (given back when freed); fixes it (no dynamic raise)
 *   mallocTrim()             malloc_trim(0): free chunks' pages in every arena back to the kernel
 *
 * Reads are batched: one promise per buffer of packets, never one call per packet. A record is
 * four little-endian u32 (seconds, nanoseconds, captured length, wire length) followed by the
 * bytes, padded to a multiple of 4. Only one read may be in flight per handle; close() during a
 * read is deferred until the read returns (a read waits at most timeoutMs).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define KIND_PCAP 1
#define KIND_RAW 2
#define KIND_UDP 3
#define KIND_UNIX 4 /* unix datagram socket: recvBatch and poll as UDP, no address */
#define REC_HDR 16
#define RAW_MAX 65536

typedef struct {
  int kind;
  pcap_t *pcap;
  int fd;
  int snaplen;
  int timeout_ms;
  int busy;
  int closing;
  int closed;
  int family;          /* AF_INET / AF_INET6 for UDP sockets */
  uv_poll_t *poll;     /* readiness watcher (UDP), freed in its close callback */
  napi_env env;
  napi_ref poll_fn;
  napi_async_context poll_ctx;
  struct mmsghdr *msgs; /* batch tables, allocated once at udpOpen: nothing per packet */
  struct iovec *iov;
  struct sockaddr_storage *addrs;
  struct ring_rx *ring; /* receive thread draining this socket into a ring (udpRingStart) */
} handle_t;

static void ring_stop(handle_t *h);

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buf_ref;
  napi_ref h_ref;
  handle_t *h;
  uint8_t *data;
  size_t cap;
  size_t used;
  uint32_t packets;
  int err;
  char msg[PCAP_ERRBUF_SIZE + 64];
} read_req_t;

#define CHECK(call)                                                                      \
  do {                                                                                   \
    if ((call) != napi_ok) {                                                             \
      napi_throw_error(env, NULL, "vantage-pcap: N-API call failed: " #call);           \
      return NULL;                                                                       \
    }                                                                                    \
  } while (0)

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_value m, c, e;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_throw(env, e);
  return NULL;
}

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOBUFS: return "ENOBUFS";
    case EAGAIN: return "EAGAIN";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EMSGSIZE: return "EMSGSIZE";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EBADF: return "EBADF";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENOTCONN: return "ENOTCONN";
    default: return "EIO";
  }
}

static void poll_closed(uv_handle_t *p) { free(p); }

static void stop_poll(handle_t *h) {
  if (h->poll) {
    uv_poll_stop(h->poll);
    uv_close((uv_handle_t *)h->poll, poll_closed);
    h->poll = NULL;
  }
  if (h->poll_fn) {
    napi_delete_reference(h->env, h->poll_fn);
    h->poll_fn = NULL;
  }
  if (h->poll_ctx) {
    napi_async_destroy(h->env, h->poll_ctx);
    h->poll_ctx = NULL;
  }
}

static void really_close(handle_t *h) {
  if (h->closed) return;
  h->closed = 1;
  ring_stop(h);
  stop_poll(h);
  if ((h->kind == KIND_UDP || h->kind == KIND_UNIX) && h->fd >= 0) close(h->fd);
  free(h->msgs);
  free(h->iov);
  free(h->addrs);
  h->msgs = NULL;
  h->iov = NULL;
  h->addrs = NULL;
  if (h->kind == KIND_PCAP && h->pcap) pcap_close(h->pcap);
  if (h->kind == KIND_RAW && h->fd >= 0) close(h->fd);
  h->pcap = NULL;
  h->fd = -1;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  handle_t *h = (handle_t *)data;
  /* A read in flight keeps the handle object alive through its promise, so busy is 0 here. */
  really_close(h);
  free(h);
}

static handle_t *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) {
    napi_throw_type_error(env, NULL, "vantage-pcap: expected a handle");
    return NULL;
  }
  napi_get_value_external(env, v, &p);
  handle_t *h = (handle_t *)p;
  if (h->closed || h->closing) {
    throw_code(env, "ECLOSED", "vantage-pcap: handle is closed");
    return NULL;
  }
  return h;
}

static int get_opt_int(napi_env env, napi_value obj, const char *name, int dflt) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, name, &v);
  napi_typeof(env, v, &t);
  if (t == napi_boolean) {
    bool b;
    napi_get_value_bool(env, v, &b);
    return b ? 1 : 0;
  }
  if (t != napi_number) return dflt;
  int32_t n;
  napi_get_value_int32(env, v, &n);
  return n;
}

/* Copy a JS string into a malloc'd C string; NULL when absent. */
static char *get_string(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return NULL;
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value make_handle(napi_env env, handle_t *h) {
  napi_value ext;
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    really_close(h);
    free(h);
    napi_throw_error(env, NULL, "vantage-pcap: cannot create handle");
    return NULL;
  }
  return ext;
}

/* open(iface, {snaplen, promisc, immediate, bufferSize, timeoutMs, filter}) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *iface = argc > 0 ? get_string(env, argv[0]) : NULL;
  if (!iface) {
    napi_throw_type_error(env, NULL, "vantage-pcap: open(iface, opts): iface must be a string");
    return NULL;
  }
  napi_value opts = argv[1];
  napi_valuetype ot = napi_undefined;
  if (argc > 1) napi_typeof(env, opts, &ot);
  int has_opts = ot == napi_object;
  int snaplen = has_opts ? get_opt_int(env, opts, "snaplen", 262144) : 262144;
  int promisc = has_opts ? get_opt_int(env, opts, "promisc", 1) : 1;
  int immediate = has_opts ? get_opt_int(env, opts, "immediate", 1) : 1;
  int bufsize = has_opts ? get_opt_int(env, opts, "bufferSize", 32 << 20) : 32 << 20;
  int timeout = has_opts ? get_opt_int(env, opts, "timeoutMs", 100) : 100;
  char *filter = NULL;
  if (has_opts) {
    bool has = false;
    napi_has_named_property(env, opts, "filter", &has);
    if (has) {
      napi_value fv;
      napi_get_named_property(env, opts, "filter", &fv);
      filter = get_string(env, fv);
    }
  }

  char errbuf[PCAP_ERRBUF_SIZE];
  char msg[PCAP_ERRBUF_SIZE + 256];
  errbuf[0] = 0;
  pcap_t *p = pcap_create(iface, errbuf);
  if (!p) {
    snprintf(msg, sizeof msg, "%s: %s", iface, errbuf);
    free(iface);
    free(filter);
    return throw_code(env, "EPCAP", msg);
  }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc);
  pcap_set_immediate_mode(p, immediate);
  pcap_set_buffer_size(p, bufsize);
  pcap_set_timeout(p, timeout);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int rc = pcap_activate(p);
  if (rc < 0) {
    const char *code = "EPCAP";
    if (rc == PCAP_ERROR_PERM_DENIED) code = "EPERM";
    else if (rc == PCAP_ERROR_NO_SUCH_DEVICE) code = "ENODEV";
    else if (rc == PCAP_ERROR_IFACE_NOT_UP) code = "ENETDOWN";
    else if (rc == PCAP_ERROR_PROMISC_PERM_DENIED) code = "EPERM";
    snprintf(msg, sizeof msg, "%s: %s", iface, pcap_geterr(p));
    pcap_close(p);
    free(iface);
    free(filter);
    return throw_code(env, code, msg);
  }
  if (filter && filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(msg, sizeof msg, "filter '%s': %s", filter, pcap_geterr(p));
      pcap_close(p);
      free(iface);
      free(filter);
      return throw_code(env, "EFILTER", msg);
    }
    rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      snprintf(msg, sizeof msg, "filter '%s': %s", filter, pcap_geterr(p));
      pcap_close(p);
      free(iface);
      free(filter);
      return throw_code(env, "EFILTER", msg);
    }
  }
  free(iface);
  free(filter);
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    snprintf(msg, sizeof msg, "cannot make the capture non-blocking: %s", errbuf);
    pcap_close(p);
    return throw_code(env, "EPCAP", msg);
  }
  handle_t *h = calloc(1, sizeof *h);
  h->kind = KIND_PCAP;
  h->pcap = p;
  h->fd = pcap_get_selectable_fd(p);
  h->snaplen = pcap_snapshot(p);
  h->timeout_ms = timeout > 0 ? timeout : 100;
  return make_handle(env, h);
}

static napi_value js_datalink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  CHECK(napi_create_int32(env, h->kind == KIND_PCAP ? pcap_datalink(h->pcap) : 101, &out));
  return out;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

static void read_execute(napi_env env, void *data) {
  read_req_t *r = (read_req_t *)data;
  handle_t *h = r->h;
  struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
  int pr = poll(&pfd, 1, h->timeout_ms);
  if (pr < 0 && errno != EINTR) {
    r->err = errno;
    snprintf(r->msg, sizeof r->msg, "poll: %s", strerror(errno));
    return;
  }
  size_t need = REC_HDR + (size_t)(h->kind == KIND_PCAP ? h->snaplen : RAW_MAX);
  if (h->kind == KIND_PCAP) {
    while (r->cap - r->used >= need) {
      struct pcap_pkthdr *hdr;
      const u_char *bytes;
      int rc = pcap_next_ex(h->pcap, &hdr, &bytes);
      if (rc == 1) {
        uint8_t *o = r->data + r->used;
        uint32_t cl = hdr->caplen;
        put_u32(o, (uint32_t)hdr->ts.tv_sec);
        put_u32(o + 4, (uint32_t)hdr->ts.tv_usec); /* nanoseconds: precision set to nano */
        put_u32(o + 8, cl);
        put_u32(o + 12, hdr->len);
        memcpy(o + REC_HDR, bytes, cl);
        r->used += REC_HDR + ((cl + 3) & ~3u);
        r->packets++;
      } else if (rc == 0 || rc == PCAP_ERROR_BREAK) {
        break;
      } else {
        r->err = EIO;
        snprintf(r->msg, sizeof r->msg, "capture read failed: %s", pcap_geterr(h->pcap));
        break;
      }
    }
  } else {
    while (r->cap - r->used >= need) {
      uint8_t *o = r->data + r->used;
      ssize_t n = recv(h->fd, o + REC_HDR, RAW_MAX, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          r->err = errno;
          snprintf(r->msg, sizeof r->msg, "raw socket read failed: %s", strerror(errno));
        }
        break;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint32_t cl = n > RAW_MAX ? RAW_MAX : (uint32_t)n;
      put_u32(o, (uint32_t)ts.tv_sec);
      put_u32(o + 4, (uint32_t)ts.tv_nsec);
      put_u32(o + 8, cl);
      put_u32(o + 12, (uint32_t)n);
      r->used += REC_HDR + ((cl + 3) & ~3u);
      r->packets++;
    }
  }
}

static void read_complete(napi_env env, napi_status status, void *data) {
  read_req_t *r = (read_req_t *)data;
  handle_t *h = r->h;
  h->busy = 0;
  if (h->closing) really_close(h);
  if (r->err) {
    napi_value m, c, e;
    napi_create_string_utf8(env, r->msg, NAPI_AUTO_LENGTH, &m);
    napi_create_string_utf8(env, errno_code(r->err), NAPI_AUTO_LENGTH, &c);
    napi_create_error(env, c, m, &e);
    napi_reject_deferred(env, r->deferred, e);
  } else {
    napi_value res, v;
    napi_create_object(env, &res);
    napi_create_uint32(env, (uint32_t)r->used, &v);
    napi_set_named_property(env, res, "bytes", v);
    napi_create_uint32(env, r->packets, &v);
    napi_set_named_property(env, res, "packets", v);
    napi_resolve_deferred(env, r->deferred, res);
  }
  napi_delete_reference(env, r->buf_ref);
  napi_delete_reference(env, r->h_ref);
  napi_delete_async_work(env, r->work);
  free(r);
}

/* read(h, buf) -> Promise<{bytes, packets}> */
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], promise, name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->busy) return throw_code(env, "EBUSY", "vantage-pcap: a read is already in flight on this handle");
  bool isbuf = false;
  if (argc < 2 || napi_is_buffer(env, argv[1], &isbuf) != napi_ok || !isbuf) {
    napi_throw_type_error(env, NULL, "vantage-pcap: read(h, buf): buf must be a Buffer");
    return NULL;
  }
  void *data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  size_t need = REC_HDR + (size_t)(h->kind == KIND_PCAP ? h->snaplen : RAW_MAX);
  if (len < need) {
    char m[128];
    snprintf(m, sizeof m, "vantage-pcap: read buffer of %zu bytes is smaller than one record (%zu)", len, need);
    return throw_code(env, "EINVAL", m);
  }
  read_req_t *r = calloc(1, sizeof *r);
  r->h = h;
  r->data = (uint8_t *)data;
  r->cap = len;
  CHECK(napi_create_reference(env, argv[1], 1, &r->buf_ref));
  CHECK(napi_create_reference(env, argv[0], 1, &r->h_ref));
  CHECK(napi_create_promise(env, &r->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "vantage-pcap.read", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, read_execute, read_complete, r, &r->work));
  h->busy = 1;
  CHECK(napi_queue_async_work(env, r->work));
  return promise;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], res, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  if (h->kind == KIND_PCAP && pcap_stats(h->pcap, &st) != 0)
    return throw_code(env, "EPCAP", pcap_geterr(h->pcap));
  CHECK(napi_create_object(env, &res));
  napi_create_double(env, st.ps_recv, &v);
  napi_set_named_property(env, res, "received", v);
  napi_create_double(env, st.ps_drop, &v);
  napi_set_named_property(env, res, "dropped", v);
  napi_create_double(env, st.ps_ifdrop, &v);
  napi_set_named_property(env, res, "ifDropped", v);
  return res;
}

/* inject(h, buf) -> bytes sent */
static napi_value js_inject(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind != KIND_PCAP) return throw_code(env, "EINVAL", "vantage-pcap: inject needs a capture handle");
  void *data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  int n = pcap_inject(h->pcap, data, len);
  if (n < 0) return throw_code(env, "EIO", pcap_geterr(h->pcap));
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

/*
 * A receive buffer of `bytes`: SO_RCVBUFFORCE first (root or CAP_NET_ADMIN may exceed
 * net.core.rmem_max, which is what lets a mirror target ride out a burst or a pause of the
 * JavaScript thread), else SO_RCVBUF capped by rmem_max.
 */
static void set_rcvbuf(int fd, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

/* rawOpen(proto, bindIp?) -> handle: raw IPv4 socket; reads return whole IPv4 packets. */
static napi_value js_raw_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t proto = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &proto) != napi_ok || proto <= 0 || proto > 255) {
    napi_throw_type_error(env, NULL, "vantage-pcap: rawOpen(proto): proto must be 1..255");
    return NULL;
  }
  int rcvbuf = 8 << 20;
  if (argc > 2) {
    int32_t rb;
    if (napi_get_value_int32(env, argv[2], &rb) == napi_ok && rb > 0) rcvbuf = rb;
  }
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    char m[256];
    snprintf(m, sizeof m, "raw socket for IP protocol %d: %s", proto, strerror(errno));
    return throw_code(env, errno_code(errno), m);
  }
  set_rcvbuf(fd, rcvbuf);
  char *bind_ip = argc > 1 ? get_string(env, argv[1]) : NULL;
  if (bind_ip && bind_ip[0]) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, bind_ip, &a.sin_addr) != 1 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      char m[256];
      snprintf(m, sizeof m, "raw socket: cannot bind to %s: %s", bind_ip, strerror(errno));
      int e = errno;
      close(fd);
      free(bind_ip);
      return throw_code(env, errno_code(e), m);
    }
  }
  free(bind_ip);
  handle_t *h = calloc(1, sizeof *h);
  h->kind = KIND_RAW;
  h->fd = fd;
  h->snaplen = RAW_MAX;
  h->timeout_ms = 100;
  return make_handle(env, h);
}

/* rawSend(h, buf, dstIp) -> bytes sent; throws with code EAGAIN/ENOBUFS when the queue is full. */
static napi_value js_raw_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind != KIND_RAW) return throw_code(env, "EINVAL", "vantage-pcap: rawSend needs a raw socket handle");
  void *data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  char ip[64];
  size_t iplen = 0;
  CHECK(napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &iplen));
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return throw_code(env, "EINVAL", "rawSend: bad IPv4 address");
  ssize_t n = sendto(h->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof a);
  if (n < 0) {
    char m[128];
    snprintf(m, sizeof m, "rawSend: %s", strerror(errno));
    return throw_code(env, errno_code(errno), m);
  }
  CHECK(napi_create_int32(env, (int32_t)n, &out));
  return out;
}

/* ---- batched UDP (and raw) socket I/O ---------------------------------------------------- */

#define MAX_BATCH 1024
#define META_STRIDE 12 /* u32 per received datagram, see js_recv_batch */

static napi_value throw_errno(napi_env env, int e, const char *what) {
  char m[256];
  snprintf(m, sizeof m, "%s: %s", what, strerror(e));
  return throw_code(env, errno_code(e), m);
}

/* The batch tables of a handle, allocated once (never per packet or per call). */
static int ensure_tables(handle_t *h) {
  if (h->msgs) return 0;
  h->msgs = calloc(MAX_BATCH, sizeof *h->msgs);
  h->iov = calloc(MAX_BATCH, sizeof *h->iov);
  h->addrs = calloc(MAX_BATCH, sizeof *h->addrs);
  if (!h->msgs || !h->iov || !h->addrs) {
    free(h->msgs);
    free(h->iov);
    free(h->addrs);
    h->msgs = NULL;
    h->iov = NULL;
    h->addrs = NULL;
    return -1;
  }
  return 0;
}

/* Parse ip ('' = any) and port into a sockaddr of `family`; 0 on success. */
static int make_sockaddr(int family, const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (ip[0] && inet_pton(AF_INET, ip, &a->sin_addr) != 1) return -1;
    *len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (ip[0] && inet_pton(AF_INET6, ip, &a->sin6_addr) != 1) return -1;
    *len = sizeof *a;
  }
  return 0;
}

static int get_family(handle_t *h) {
  if (h->kind == KIND_RAW) return AF_INET;
  return h->family;
}

/* udpOpen(family 4|6, ip, port (-1: no bind), rcvbuf, sndbuf) -> handle (non-blocking socket) */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fam = 0, port = -1, rcvbuf = 0, sndbuf = 0;
  char ip[INET6_ADDRSTRLEN + 1] = "";
  size_t iplen = 0;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &fam) != napi_ok || (fam != 4 && fam != 6) ||
      napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &iplen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < -1 || port > 65535 ||
      napi_get_value_int32(env, argv[3], &rcvbuf) != napi_ok ||
      napi_get_value_int32(env, argv[4], &sndbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "vantage-pcap: udpOpen(family 4|6, ip, port, rcvbuf, sndbuf)");
    return NULL;
  }
  int family = fam == 6 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  if (make_sockaddr(family, ip, port < 0 ? 0 : port, &ss, &sl) != 0) {
    char m[128];
    snprintf(m, sizeof m, "udpOpen: '%s' is not an IPv%d address", ip, fam);
    return throw_code(env, "EINVAL", m);
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "udp socket");
  set_rcvbuf(fd, rcvbuf);
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf); /* capped by wmem_max */
  if (port >= 0 && bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    int e = errno;
    char m[160];
    snprintf(m, sizeof m, "bind udp %s:%d", ip[0] ? ip : (fam == 6 ? "::" : "0.0.0.0"), port);
    close(fd);
    return throw_errno(env, e, m);
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h || (h->fd = fd, ensure_tables(h) != 0)) {
    close(fd);
    free(h);
    return throw_code(env, "ENOMEM", "udpOpen: out of memory");
  }
  h->kind = KIND_UDP;
  h->family = family;
  return make_handle(env, h);
}

/*
 * unixDgramOpen(path, rcvbuf) -> handle: a non-blocking AF_UNIX SOCK_DGRAM socket bound to path
 * (which must not exist: the caller removes a stale socket file). Read with poll + recvBatch.
 */
static napi_value js_unix_dgram_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t plen = 0;
  int32_t rcvbuf = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &plen) != napi_ok ||
      napi_get_value_int32(env, argv[1], &rcvbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "vantage-pcap: unixDgramOpen(path, rcvbuf)");
    return NULL;
  }
  if (plen == 0 || plen >= sizeof sa.sun_path) {
    char m[128];
    snprintf(m, sizeof m, "unixDgramOpen: a socket path needs 1 to %zu bytes, this one has %zu",
             sizeof sa.sun_path - 1, plen);
    return throw_code(env, "ENAMETOOLONG", m);
  }
  CHECK(napi_get_value_string_utf8(env, argv[0], sa.sun_path, sizeof sa.sun_path, &plen));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "unix datagram socket");
  set_rcvbuf(fd, rcvbuf);
  if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1)) != 0) {
    int e = errno;
    char m[160];
    snprintf(m, sizeof m, "bind unix datagram socket %s", sa.sun_path);
    close(fd);
    return throw_errno(env, e, m);
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h || (h->fd = fd, ensure_tables(h) != 0)) {
    close(fd);
    free(h);
    return throw_code(env, "ENOMEM", "unixDgramOpen: out of memory");
  }
  h->kind = KIND_UNIX;
  h->family = AF_UNIX;
  return make_handle(env, h);
}

/* connect(h, ip, port): fixes the destination of sendBatch (UDP or raw socket). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "vantage-pcap: connect(h, ip, port)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind == KIND_PCAP || h->kind == KIND_UNIX)
    return throw_code(env, "EINVAL", "vantage-pcap: connect needs a UDP or raw socket handle");
  char ip[INET6_ADDRSTRLEN + 1] = "";
  size_t iplen = 0;
  int32_t port = 0;
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &iplen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535 || !ip[0]) {
    napi_throw_type_error(env, NULL, "vantage-pcap: connect(h, ip, port): bad address or port");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  if (make_sockaddr(get_family(h), ip, h->kind == KIND_RAW ? 0 : port, &ss, &sl) != 0)
    return throw_code(env, "EINVAL", "connect: address does not match the socket's family");
  if (ensure_tables(h) != 0) return throw_code(env, "ENOMEM", "connect: out of memory");
  if (connect(h->fd, (struct sockaddr *)&ss, sl) != 0) return throw_errno(env, errno, "connect");
  return NULL;
}

/* address(h) -> {address, port} of the bound socket */
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], res, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind == KIND_PCAP || h->kind == KIND_UNIX)
    return throw_code(env, "EINVAL", "vantage-pcap: address needs a UDP or raw socket handle");
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) != 0) return throw_errno(env, errno, "getsockname");
  char ip[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
  }
  CHECK(napi_create_object(env, &res));
  CHECK(napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, res, "address", v));
  CHECK(napi_create_int32(env, port, &v));
  CHECK(napi_set_named_property(env, res, "port", v));
  return res;
}

static void on_poll(uv_poll_t *p, int status, int events) {
  handle_t *h = (handle_t *)p->data;
  if (!h || h->closed || !h->poll_fn) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, global, result;
  if (napi_get_reference_value(env, h->poll_fn, &fn) == napi_ok && fn && napi_get_global(env, &global) == napi_ok) {
    /* The callback may close (and the GC then free) the handle: h is not touched after this. */
    napi_status st = napi_make_callback(env, h->poll_ctx, global, fn, 0, NULL, &result);
    if (st == napi_pending_exception) {
      napi_value e;
      if (napi_get_and_clear_last_exception(env, &e) == napi_ok) napi_fatal_exception(env, e);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* poll(h, fn): call fn() whenever the socket is readable, until close(h). */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], res_name, resource;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = argc > 0 ? get_handle(env, argv[0]) : NULL;
  if (!h) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "vantage-pcap: poll(h, fn): fn must be a function");
    return NULL;
  }
  if (h->kind == KIND_PCAP) return throw_code(env, "EINVAL", "vantage-pcap: poll needs a socket handle");
  if (h->poll) return throw_code(env, "EBUSY", "vantage-pcap: the socket is already polled");
  uv_loop_t *loop = NULL;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_t *p = calloc(1, sizeof *p);
  if (!p) return throw_code(env, "ENOMEM", "poll: out of memory");
  int rc = uv_poll_init(loop, p, h->fd);
  if (rc != 0) {
    free(p);
    char m[128];
    snprintf(m, sizeof m, "poll: %s", uv_strerror(rc));
    return throw_code(env, "EIO", m);
  }
  p->data = h;
  h->poll = p;
  h->env = env;
  CHECK(napi_create_reference(env, argv[1], 1, &h->poll_fn));
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "vantage-pcap.poll", NAPI_AUTO_LENGTH, &res_name));
  CHECK(napi_async_init(env, resource, res_name, &h->poll_ctx));
  rc = uv_poll_start(p, UV_READABLE, on_poll);
  if (rc != 0) {
    stop_poll(h);
    char m[128];
    snprintf(m, sizeof m, "poll: %s", uv_strerror(rc));
    return throw_code(env, "EIO", m);
  }
  return NULL;
}

/* Validated typed array of u32; NULL (with a pending TypeError) otherwise. */
static uint32_t *get_u32_array(napi_env env, napi_value v, size_t *n, const char *what) {
  bool is = false;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, n, &data, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return (uint32_t *)data;
}

/* The bytes of a Buffer argument; false with a TypeError thrown when it is not one. */
static bool get_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *what) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return false;
  }
  return true;
}

/*
 * recvBatch(h, buf, meta, slot, headroom) -> n datagrams received (0: none waiting). Never
 * blocks. Datagram i lands at buf[i*slot + headroom], at most slot - headroom bytes; meta
 * (Uint32Array) gets META_STRIDE words per datagram:
 *   0 offset in buf, 1 bytes stored, 2 datagram length (larger when truncated), 3 flags (1 =
 *   truncated), 4 address family (4 or 6), 5 source port, 6-7 zero, 8-11 source address
 *   (4 or 16 bytes in network order).
 * At most min(buf.length / slot, meta.length / META_STRIDE, 1024) datagrams per call.
 */
static napi_value js_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "vantage-pcap: recvBatch(h, buf, meta, slot, headroom)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind != KIND_UDP && h->kind != KIND_UNIX)
    return throw_code(env, "EINVAL", "vantage-pcap: recvBatch needs a UDP or unix datagram handle");
  size_t len = 0;
  void *data = NULL;
  if (!get_buffer(env, argv[1], &data, &len, "vantage-pcap: recvBatch: buf must be a Buffer")) return NULL;
  size_t mlen = 0;
  uint32_t *meta = get_u32_array(env, argv[2], &mlen, "vantage-pcap: recvBatch: meta must be a Uint32Array");
  if (!meta) return NULL;
  int32_t slot = 0, headroom = 0;
  if (napi_get_value_int32(env, argv[3], &slot) != napi_ok || napi_get_value_int32(env, argv[4], &headroom) != napi_ok ||
      headroom < 0 || slot <= headroom || (size_t)slot > len) {
    return throw_code(env, "EINVAL", "vantage-pcap: recvBatch: need 0 <= headroom < slot <= buf.length");
  }
  size_t n = len / (size_t)slot;
  if (n > mlen / META_STRIDE) n = mlen / META_STRIDE;
  if (n > MAX_BATCH) n = MAX_BATCH;
  if (n == 0) return throw_code(env, "EINVAL", "vantage-pcap: recvBatch: meta has no room for one datagram");
  uint8_t *base = (uint8_t *)data;
  size_t room = (size_t)(slot - headroom);
  for (size_t i = 0; i < n; i++) {
    h->iov[i].iov_base = base + i * (size_t)slot + (size_t)headroom;
    h->iov[i].iov_len = room;
    struct msghdr *m = &h->msgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &h->addrs[i];
    m->msg_namelen = sizeof h->addrs[i];
    m->msg_iov = &h->iov[i];
    m->msg_iovlen = 1;
    h->msgs[i].msg_len = 0;
  }
  /* MSG_TRUNC: msg_len is the real datagram length even when it did not fit. */
  int r = recvmmsg(h->fd, h->msgs, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC, NULL);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) r = 0;
    else return throw_errno(env, errno, "recvmmsg");
  }
  for (int i = 0; i < r; i++) {
    uint32_t *o = meta + (size_t)i * META_STRIDE;
    struct msghdr *m = &h->msgs[i].msg_hdr;
    uint32_t wire = h->msgs[i].msg_len;
    int trunc = (m->msg_flags & MSG_TRUNC) || wire > room;
    o[0] = (uint32_t)((size_t)i * (size_t)slot + (size_t)headroom);
    o[1] = wire > room ? (uint32_t)room : wire;
    o[2] = wire;
    o[3] = trunc ? 1 : 0;
    o[6] = 0;
    o[7] = 0;
    memset(o + 8, 0, 16);
    if (h->kind == KIND_UNIX) {
      o[4] = 0; /* a unix sender has no address worth reporting (often unbound) */
      o[5] = 0;
    } else if (h->addrs[i].ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&h->addrs[i];
      o[4] = 6;
      o[5] = ntohs(a->sin6_port);
      memcpy(o + 8, &a->sin6_addr, 16);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&h->addrs[i];
      o[4] = 4;
      o[5] = ntohs(a->sin_port);
      memcpy(o + 8, &a->sin_addr, 4);
    }
  }
  CHECK(napi_create_int32(env, r, &out));
  return out;
}

/*
 * sendBatch(h, buf, table, first, count) -> datagrams sent. Datagram j is
 * buf[table[2j] .. table[2j] + table[2j+1]], sent to the connected destination, for j in
 * first .. first+count-1 (at most 1024 per call). Never blocks: returns fewer (0 when the send
 * buffer is full) and the caller retries the rest later. Throws with the errno code when the
 * datagram at `first` fails; the caller counts it and goes on after it.
 */
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "vantage-pcap: sendBatch(h, buf, table, first, count)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->kind == KIND_PCAP || h->kind == KIND_UNIX || !h->msgs)
    return throw_code(env, "EINVAL", "vantage-pcap: sendBatch needs a connected UDP or raw socket handle");
  size_t len = 0;
  void *data = NULL;
  if (!get_buffer(env, argv[1], &data, &len, "vantage-pcap: sendBatch: buf must be a Buffer")) return NULL;
  size_t tlen = 0;
  uint32_t *table = get_u32_array(env, argv[2], &tlen, "vantage-pcap: sendBatch: table must be a Uint32Array");
  if (!table) return NULL;
  int64_t first = 0, count = 0;
  if (napi_get_value_int64(env, argv[3], &first) != napi_ok || napi_get_value_int64(env, argv[4], &count) != napi_ok ||
      first < 0 || count < 0 || (uint64_t)(first + count) > tlen / 2) {
    return throw_code(env, "EINVAL", "vantage-pcap: sendBatch: first/count outside the table");
  }
  if (count > MAX_BATCH) count = MAX_BATCH;
  for (int64_t j = 0; j < count; j++) {
    uint32_t off = table[2 * (first + j)], l = table[2 * (first + j) + 1];
    if ((uint64_t)off + l > len) {
      char m[160];
      snprintf(m, sizeof m, "vantage-pcap: sendBatch: datagram %lld (%u bytes at %u) is outside the buffer",
               (long long)(first + j), l, off);
      return throw_code(env, "EINVAL", m);
    }
    h->iov[j].iov_base = (uint8_t *)data + off;
    h->iov[j].iov_len = l;
    struct msghdr *m = &h->msgs[j].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_iov = &h->iov[j];
    m->msg_iovlen = 1;
    h->msgs[j].msg_len = 0;
  }
  int r = count > 0 ? sendmmsg(h->fd, h->msgs, (unsigned)count, MSG_DONTWAIT) : 0;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) r = 0;
    else return throw_errno(env, errno, "sendmmsg");
  }
  CHECK(napi_create_int32(env, r, &out));
  return out;
}


/* ---- receive thread: a UDP or raw socket drained into a ring ------------------------------ */
/*
 * udpRingStart(h, buf, opts, fn): a thread of its own reads the socket continuously (poll +
 * recvmmsg) and appends each datagram to a ring in `buf`, so a busy JavaScript thread no longer
 * lets the kernel's socket buffer overflow: bursts wait in the ring, whose size the caller takes
 * from the memory budget. What the ring cannot take is dropped and counted (ring_full).
 *
 * With opts.tzsp the datagram is stored as it came (the JavaScript side reads its TZSP header);
 * only sampling looks inside, for the carried frame's flow.
 * With opts.gre the handle is a raw socket for IP protocol 47: a record is the whole IPv4 packet
 * the kernel hands over (outer header, GRE, ERSPAN), which the decoder reads as raw IP; sampling
 * hashes the carried frame's flow with the GRE key or ERSPAN session.
 * With opts.vxlan the datagram is checked as VXLAN and the outer IPv4/IPv6 + UDP headers are
 * rebuilt in front of it (as they were on the wire, destination port 4789), so a record is a
 * raw-IP frame. With opts.sampling the thread keeps whole flows 1 in N under overload: the
 * inner 5-tuple (both directions alike, with the VNI) is hashed and a flow's decision is made
 * once, at N = 2^level of that moment, and remembered in a bounded table, so a kept flow keeps
 * every packet. The level rises as the ring fills (half full: 2, three quarters: 4, ...): flows
 * kept before N rose go on filling the ring for a while, so sampling starts with half the ring
 * still free. It falls one step every 250 ms while the ring is under a quarter full, so it ends
 * soon after the burst.
 *
 * buf layout: control words (RING_CTL bytes), then the data area (a power of two).
 *   u32 [0] head (bytes written, mod 2^32)   [1] tail (bytes consumed, written by JS)
 *       [2] waiting (JS sets 1 before it sleeps; the thread clears it and calls fn)
 *       [3] sampling level in force          [4] the thread's id (for its CPU time)
 *       [5] 1 when the thread's nice value was set (opts.nice)
 *       [6] 1 when the thread runs SCHED_FIFO at opts.realtime (1-99; 0: not asked)
 *   f64 from byte 64: the RC_* counters (written by the thread only).
 * Record: u32 seconds, u32 nanoseconds, u32 caplen, u32 wire length, u32 info (the flow's
 * sampling factor N in bits 0-15; bit 31 truncated), then caplen bytes, padded to 4. A caplen of
 * 0xffffffff, or fewer than RING_REC bytes before the end of the area, means: go on at 0.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define RING_CTL 256
#define RING_REC 20
#define RING_PAD 0xffffffffu
#define RING_BATCH 64
#define RING_SLOT 16384
#define RING_WAYS 4
#define RING_IDLE_S 120
#define RING_GATHER_NS 200000
/* An empty ring goes on at 0 once writing has passed this far into it, and the pages written
 * past it since the last trim are given back (at most once a second): a consumer that keeps up
 * then keeps only the ring's first MiB resident, not the whole share the budget gives it. */
#define RING_LOW (1u << 20)
#define RING_TRIM_MS 1000

enum {
  RC_RECEIVED, RC_BYTES, RC_WRITTEN, RC_RING_FULL, RC_SAMPLED, RC_TRUNCATED, RC_TOO_SHORT, RC_NO_VNI,
  RC_RECV_ERRORS, RC_EVICTIONS, RC_FLOWS_KEPT, RC_FLOWS_SAMPLED, RC_LEVEL_CHANGES, RC_HIGH_WATER, RC_REWINDS,
  RC_TRIMS, RC_COUNT
};

typedef struct ring_rx {
  int fd;
  uint8_t *data;
  uint32_t size;
  uint32_t *ctl;
  double *cnt;
  pthread_t thr;
  int stop;
  napi_threadsafe_function tsfn;
  napi_ref buf_ref;
  napi_env env;
  int vxlan;
  int tzsp;
  int gre;
  int sampling;
  int max_level;
  int nice;
  int rt;
  uint64_t *table;
  uint32_t buckets_mask;
  uint64_t level_ms;
  /* Furthest offset written since the last trim, and when that trim was. */
  uint32_t reach;
  uint64_t trim_ms;
  /* While the consumer has not passed a rewind's marker: where the new lap starts (its bytes
   * before it are the skipped end of the area, not data waiting). */
  int rew_pending;
  uint32_t rew_at;
  int local_v6;
  uint8_t local[16];
  uint8_t *scratch;
  struct mmsghdr msgs[RING_BATCH];
  struct iovec iov[RING_BATCH];
  struct sockaddr_storage addrs[RING_BATCH];
} ring_rx;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static uint64_t l3_flow_hash(const uint8_t *p, uint32_t n, uint32_t o, uint16_t type, uint32_t vni);

/* Hash of the inner flow of an Ethernet frame (the same for both directions); 0 when not IP. */
static uint64_t inner_flow_hash(const uint8_t *p, uint32_t n, uint32_t vni) {
  if (n < 14) return 0;
  uint32_t o = 14;
  uint16_t type = (uint16_t)(p[12] << 8 | p[13]);
  for (int k = 0; k < 2 && (type == 0x8100 || type == 0x88a8) && o + 4 <= n; k++) {
    type = (uint16_t)(p[o + 2] << 8 | p[o + 3]);
    o += 4;
  }
  return l3_flow_hash(p, n, o, type, vni);
}

/* The same for a raw IP packet (no link header). */
static uint64_t ip_flow_hash(const uint8_t *p, uint32_t n, uint32_t vni) {
  if (n < 1) return 0;
  uint8_t v = p[0] >> 4;
  return l3_flow_hash(p, n, 0, v == 4 ? 0x0800 : v == 6 ? 0x86dd : 0, vni);
}

/*
 * TZSP: the offset of the carried frame (after the tagged fields' END) and its encapsulation
 * (1 Ethernet, 7 raw IP), or -1 when the datagram is not a TZSP packet (the JavaScript side
 * counts why; the thread only needs the flow to sample it).
 */
static int tzsp_inner(const uint8_t *d, uint32_t n, uint16_t *encap) {
  if (n < 5 || d[0] != 1 || (d[1] != 0 && d[1] != 1)) return -1;
  *encap = (uint16_t)(d[2] << 8 | d[3]);
  uint32_t o = 4;
  for (;;) {
    if (o >= n) return -1;
    uint8_t tag = d[o];
    if (tag == 1) return o + 1 < n ? (int)(o + 1) : -1;
    if (tag == 0) {
      o++;
      continue;
    }
    if (o + 2 > n) return -1;
    o += 2 + d[o + 1];
  }
}

/*
 * The flow hash of what an IPv4 packet of IP protocol 47 carries: GRE (RFC 2784/2890) with
 * transparent Ethernet bridging or IP, or ERSPAN type I, II or III; the GRE key or the ERSPAN
 * session goes into the hash as VXLAN's VNI does. 0 when there is nothing to hash (the decoder
 * counts why).
 */
static uint64_t gre_flow_hash(const uint8_t *d, uint32_t n) {
  if (n < 20 || (d[0] >> 4) != 4) return 0;
  uint32_t o = (uint32_t)(d[0] & 15) * 4;
  if (o < 20 || o + 4 > n) return 0;
  uint16_t fl = (uint16_t)(d[o] << 8 | d[o + 1]);
  uint16_t proto = (uint16_t)(d[o + 2] << 8 | d[o + 3]);
  if ((fl & 7) != 0) return 0; /* enhanced GRE (PPTP) carries PPP: not a mirror */
  o += 4;
  uint32_t key = 0;
  if (fl & 0x8000) o += 4;
  if (fl & 0x2000) {
    if (o + 4 > n) return 0;
    key = (uint32_t)d[o] << 24 | (uint32_t)d[o + 1] << 16 | (uint32_t)d[o + 2] << 8 | d[o + 3];
    o += 4;
  }
  int seq = (fl & 0x1000) != 0;
  if (seq) o += 4;
  if (o > n) return 0;
  uint32_t tag = (key ^ (key >> 24)) & 0xffffff;
  if (proto == 0x88be || proto == 0x22eb) {
    if (proto == 0x22eb || seq) { /* type II or III: a header with the session id */
      uint32_t hl = proto == 0x22eb ? 12 : 8;
      if (o + hl > n) return 0;
      tag = 0x800000u | (uint32_t)((d[o + 2] & 3) << 8 | d[o + 3]);
      if (proto == 0x22eb && (d[o + 11] & 1)) hl += 8;
      if (o + hl > n) return 0; /* the platform sub-header cut off */
      o += hl;
    }
    return inner_flow_hash(d + o, n - o, tag);
  }
  if (proto == 0x6558) return inner_flow_hash(d + o, n - o, tag);
  return l3_flow_hash(d, n, o, proto, tag);
}

static uint64_t l3_flow_hash(const uint8_t *p, uint32_t n, uint32_t o, uint16_t type, uint32_t vni) {
  const uint8_t *a, *b;
  size_t alen;
  uint8_t proto;
  uint32_t l4;
  int ports = 0;
  if (type == 0x0800) {
    if (o + 20 > n) return 0;
    uint32_t ihl = (uint32_t)(p[o] & 15) * 4;
    proto = p[o + 9];
    a = p + o + 12;
    b = p + o + 16;
    alen = 4;
    /* Fragments: no ports in most of them, so every fragment of a flow hashes on addresses. */
    int frag = ((p[o + 6] & 0x3f) << 8 | p[o + 7]) != 0 || (p[o + 6] & 0x20);
    l4 = o + ihl;
    ports = !frag && ihl >= 20;
  } else if (type == 0x86dd) {
    if (o + 40 > n) return 0;
    proto = p[o + 6];
    a = p + o + 8;
    b = p + o + 24;
    alen = 16;
    l4 = o + 40;
    ports = 1;
  } else {
    return 0;
  }
  uint16_t pa = 0, pb = 0;
  if (ports && (proto == 6 || proto == 17 || proto == 132) && l4 + 4 <= n) {
    pa = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
    pb = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
  }
  int c = memcmp(a, b, alen);
  if (c > 0 || (c == 0 && pa > pb)) {
    const uint8_t *t = a;
    a = b;
    b = t;
    uint16_t tp = pa;
    pa = pb;
    pb = tp;
  }
  uint8_t head[8] = {(uint8_t)(vni >> 16), (uint8_t)(vni >> 8), (uint8_t)vni, proto,
                     (uint8_t)(pa >> 8), (uint8_t)pa, (uint8_t)(pb >> 8), (uint8_t)pb};
  uint64_t h = fnv(0xcbf29ce484222325ULL, head, 8);
  h = fnv(h, a, alen);
  h = fnv(h, b, alen);
  h = mix64(h);
  return h ? h : 1;
}

/* The flow's decision: its sampling factor when kept, 0 when sampled out. */
static uint32_t flow_decision(ring_rx *r, uint64_t h, uint32_t now_s) {
  uint64_t *bk = r->table + (size_t)(h & r->buckets_mask) * RING_WAYS;
  uint32_t tag = (uint32_t)(h >> 32) | 1u;
  uint16_t now16 = (uint16_t)now_s;
  int victim = -1;
  uint16_t oldest = 0;
  for (int i = 0; i < RING_WAYS; i++) {
    uint64_t e = bk[i];
    if ((uint32_t)(e >> 32) == tag) {
      bk[i] = (e & ~0xffff0000ULL) | ((uint64_t)now16 << 16);
      uint32_t d = (uint32_t)(e & 0xff);
      return (d & 0x80) ? 1u << (d & 0x1f) : 0;
    }
    uint16_t age = e == 0 ? 0xffff : (uint16_t)(now16 - (uint16_t)(e >> 16));
    if (victim < 0 || age > oldest) {
      victim = i;
      oldest = age;
    }
  }
  /* A new flow (or one whose entry was taken): decided at the level in force now. */
  if (oldest < RING_IDLE_S) r->cnt[RC_EVICTIONS]++;
  uint32_t level = r->ctl[3];
  int keep = ((h >> 20) & ((1ULL << level) - 1)) == 0;
  if (keep) r->cnt[RC_FLOWS_KEPT]++;
  else r->cnt[RC_FLOWS_SAMPLED]++;
  bk[victim] = ((uint64_t)tag << 32) | ((uint64_t)now16 << 16) | (keep ? 0x80u | level : level);
  return keep ? 1u << level : 0;
}

static uint32_t put_outer(ring_rx *r, uint8_t *o, const struct sockaddr_storage *from, uint32_t len) {
  const uint8_t *s4 = NULL;
  const uint8_t *s6 = NULL;
  uint16_t sport = 0;
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    sport = ntohs(a->sin6_port);
    const uint8_t *x = a->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(x, mapped, 12) == 0) s4 = x + 12;
    else s6 = x;
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    sport = ntohs(a->sin_port);
    s4 = (const uint8_t *)&a->sin_addr;
  }
  uint32_t udp = 8 + len;
  uint32_t hl;
  if (!s6 && !r->local_v6) {
    uint32_t tot = 20 + udp > 65535 ? 65535 : 20 + udp;
    o[0] = 0x45;
    o[1] = 0;
    o[2] = (uint8_t)(tot >> 8);
    o[3] = (uint8_t)tot;
    memset(o + 4, 0, 4);
    o[8] = 64;
    o[9] = 17;
    o[10] = 0;
    o[11] = 0;
    memcpy(o + 12, s4, 4);
    memcpy(o + 16, r->local + 12, 4);
    hl = 28;
  } else {
    o[0] = 0x60;
    o[1] = 0;
    o[2] = 0;
    o[3] = 0;
    o[4] = (uint8_t)(udp >> 8);
    o[5] = (uint8_t)udp;
    o[6] = 17;
    o[7] = 64;
    if (s6) memcpy(o + 8, s6, 16);
    else {
      memset(o + 8, 0, 10);
      o[18] = 0xff;
      o[19] = 0xff;
      memcpy(o + 20, s4, 4);
    }
    memcpy(o + 24, r->local, 16);
    hl = 48;
  }
  uint8_t *u = o + hl - 8;
  u[0] = (uint8_t)(sport >> 8);
  u[1] = (uint8_t)sport;
  u[2] = 4789 >> 8;
  u[3] = 4789 & 0xff;
  u[4] = (uint8_t)(udp >> 8);
  u[5] = (uint8_t)udp;
  u[6] = 0;
  u[7] = 0;
  return hl;
}

static void ring_level(ring_rx *r, uint32_t used, uint64_t now_ms) {
  if (!r->sampling) return;
  uint32_t level = r->ctl[3];
  double fill = (double)used / (double)r->size;
  uint32_t up = level;
  while ((int)up < r->max_level && fill >= 1.0 - 1.0 / (double)(2u << up)) up++;
  if (up > level) {
    __atomic_store_n(&r->ctl[3], up, __ATOMIC_RELAXED);
    r->level_ms = now_ms;
    r->cnt[RC_LEVEL_CHANGES]++;
  } else if (level > 0 && fill < 0.25 && now_ms - r->level_ms >= 250) {
    __atomic_store_n(&r->ctl[3], level - 1, __ATOMIC_RELAXED);
    r->level_ms = now_ms;
    r->cnt[RC_LEVEL_CHANGES]++;
  }
}

static void *ring_main(void *arg) {
  ring_rx *r = (ring_rx *)arg;
  pid_t tid = (pid_t)syscall(SYS_gettid);
  __atomic_store_n(&r->ctl[4], (uint32_t)tid, __ATOMIC_RELAXED);
  /* The thread does little per datagram but must run when datagrams come, or the kernel drops
   * them: ahead of the busy threads of this machine when allowed (root or CAP_SYS_NICE). */
  if (r->nice != 0 && setpriority(PRIO_PROCESS, (id_t)tid, r->nice) == 0)
    __atomic_store_n(&r->ctl[5], 1, __ATOMIC_RELAXED);
  /* Real-time (SCHED_FIFO) when asked and allowed: the fair scheduler shares a core among
   * process groups (sched_autogroup), so on a busy machine a nice value alone still leaves the
   * thread waiting while the socket buffer fills. The kernel's RT throttling (95% per period)
   * bounds it under a flood. */
  if (r->rt > 0) {
    struct sched_param sp = {.sched_priority = r->rt};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0) __atomic_store_n(&r->ctl[6], 1, __ATOMIC_RELAXED);
  }
  const uint32_t mask = r->size - 1;
  uint32_t head = __atomic_load_n(&r->ctl[0], __ATOMIC_RELAXED);
  while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
    for (int i = 0; i < RING_BATCH; i++) {
      r->iov[i].iov_base = r->scratch + (size_t)i * RING_SLOT;
      r->iov[i].iov_len = RING_SLOT;
      struct msghdr *m = &r->msgs[i].msg_hdr;
      memset(m, 0, sizeof *m);
      m->msg_name = &r->addrs[i];
      m->msg_namelen = sizeof r->addrs[i];
      m->msg_iov = &r->iov[i];
      m->msg_iovlen = 1;
    }
    int n = recvmmsg(r->fd, r->msgs, RING_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        r->cnt[RC_RECV_ERRORS]++;
        usleep(1000);
      }
      struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
      poll(&pfd, 1, 50);
      continue;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t now_s = (uint32_t)ts.tv_sec;
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    uint32_t tail = __atomic_load_n(&r->ctl[1], __ATOMIC_ACQUIRE);
    if (head == tail && r->size >= 4 * RING_LOW && (head & mask) >= RING_LOW) {
      /* Empty (the consumer has read all it was given): go on at 0, through the marker the
       * consumer follows at the end of the area, and give back the pages written past RING_LOW.
       * Nothing is read from them any more; a page written again is a zeroed one. */
      uint32_t off = head & mask;
      if (r->size - off >= RING_REC) {
        uint32_t marker = RING_PAD;
        memcpy(r->data + off + 8, &marker, 4);
      }
      head += r->size - off;
      r->rew_pending = 1;
      r->rew_at = head;
      r->cnt[RC_REWINDS]++;
      if (r->reach > RING_LOW && now_ms - r->trim_ms >= RING_TRIM_MS) {
        /* Around the marker: its page must keep it until the consumer has read it (a page given
         * back reads as zeros, a record of length 0, and then whatever an older lap left). */
        uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t lo = ((uintptr_t)(r->data + RING_LOW) + pg - 1) & ~(pg - 1);
        uintptr_t mk = (uintptr_t)(r->data + off) & ~(pg - 1);
        uintptr_t past = ((uintptr_t)(r->data + off + RING_REC) + pg - 1) & ~(pg - 1);
        uintptr_t hi = (uintptr_t)(r->data + (r->reach > off ? r->reach : off)) & ~(pg - 1);
        int ok = 1;
        if (mk > lo) ok &= madvise((void *)lo, mk - lo, MADV_DONTNEED) == 0;
        if (hi > past) ok &= madvise((void *)past, hi - past, MADV_DONTNEED) == 0;
        if (ok) r->cnt[RC_TRIMS]++;
        r->reach = RING_LOW;
        r->trim_ms = now_ms;
      }
    }
    int wrote = 0;
    for (int i = 0; i < n; i++) {
      uint32_t len = r->msgs[i].msg_len;
      const uint8_t *d = r->scratch + (size_t)i * RING_SLOT;
      uint32_t cap = len > RING_SLOT ? RING_SLOT : len;
      r->cnt[RC_RECEIVED]++;
      r->cnt[RC_BYTES] += len;
      uint32_t factor = 1;
      if (r->gre && r->sampling) {
        uint64_t h = gre_flow_hash(d, cap);
        if (h != 0) {
          factor = flow_decision(r, h, now_s);
          if (factor == 0) {
            r->cnt[RC_SAMPLED]++;
            continue;
          }
        }
      } else if (r->tzsp && r->sampling) {
        uint16_t encap = 0;
        int io = tzsp_inner(d, cap, &encap);
        uint64_t h = io < 0                 ? 0
                     : encap == 1 ? inner_flow_hash(d + io, cap - (uint32_t)io, 0)
                     : encap == 7 ? ip_flow_hash(d + io, cap - (uint32_t)io, 0)
                                  : 0;
        if (h != 0) {
          factor = flow_decision(r, h, now_s);
          if (factor == 0) {
            r->cnt[RC_SAMPLED]++;
            continue;
          }
        }
      } else if (r->vxlan) {
        if (len < 8 + 14) {
          r->cnt[RC_TOO_SHORT]++;
          continue;
        }
        if ((d[0] & 0x08) == 0) {
          r->cnt[RC_NO_VNI]++;
          continue;
        }
        if (r->sampling) {
          uint32_t vni = (uint32_t)d[4] << 16 | (uint32_t)d[5] << 8 | d[6];
          uint64_t h = inner_flow_hash(d + 8, cap - 8, vni);
          if (h != 0) {
            factor = flow_decision(r, h, now_s);
            if (factor == 0) {
              r->cnt[RC_SAMPLED]++;
              continue;
            }
          }
        }
      }
      int trunc = len > RING_SLOT;
      uint32_t hl = r->vxlan ? (r->local_v6 || r->addrs[i].ss_family == AF_INET6 ? 48 : 28) : 0;
      uint32_t need = RING_REC + ((hl + cap + 3) & ~3u);
      uint32_t off = head & mask;
      uint32_t pad = r->size - off < need ? r->size - off : 0;
      if (r->size - (head - tail) < pad + need) {
        tail = __atomic_load_n(&r->ctl[1], __ATOMIC_ACQUIRE);
        if (r->size - (head - tail) < pad + need) {
          r->cnt[RC_RING_FULL]++;
          continue;
        }
      }
      if (pad) {
        if (pad >= RING_REC) {
          uint32_t marker = RING_PAD;
          memcpy(r->data + off + 8, &marker, 4);
        }
        head += pad;
        off = 0;
      }
      uint8_t *o = r->data + off;
      uint32_t w[5] = {(uint32_t)ts.tv_sec, (uint32_t)ts.tv_nsec, hl + cap, hl + len,
                       (factor & 0xffff) | (trunc ? 0x80000000u : 0)};
      memcpy(o, w, sizeof w);
      if (r->vxlan) hl = put_outer(r, o + RING_REC, &r->addrs[i], len);
      memcpy(o + RING_REC + hl, d, cap);
      if (trunc) r->cnt[RC_TRUNCATED]++;
      head += need;
      if (off + need > r->reach) r->reach = off + need;
      r->cnt[RC_WRITTEN]++;
      wrote = 1;
    }
    uint32_t used = head - tail;
    if (r->rew_pending) {
      /* The skipped end of the area is not backlog: without this the sampling level would read
       * a nearly full ring at every rewind. */
      uint32_t skip = r->rew_at - tail;
      if ((int32_t)skip > 0 && skip <= used) used -= skip;
      else r->rew_pending = 0;
    }
    if (used > r->cnt[RC_HIGH_WATER]) r->cnt[RC_HIGH_WATER] = used;
    ring_level(r, used, now_ms);
    if (wrote) {
      __atomic_store_n(&r->ctl[0], head, __ATOMIC_SEQ_CST);
      if (__atomic_exchange_n(&r->ctl[2], 0, __ATOMIC_SEQ_CST) == 1)
        napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking);
    }
    /* A short batch: the socket is nearly empty. Let datagrams gather for a moment (the socket
     * buffer holds milliseconds of them) rather than wake for every one or two: a wake-up costs
     * more than the datagrams it brings. */
    if (n < RING_BATCH) {
      struct timespec pause = {0, RING_GATHER_NS};
      nanosleep(&pause, NULL);
    }
  }
  return NULL;
}

static void ring_stop(handle_t *h) {
  ring_rx *r = h->ring;
  if (!r) return;
  h->ring = NULL;
  __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
  pthread_join(r->thr, NULL);
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
  napi_delete_reference(r->env, r->buf_ref);
  free(r->scratch);
  free(r->table);
  free(r);
}

/* udpRingStart(h, buf, {vxlan, tzsp, gre, sampling, maxLevel, tableEntries, nice, realtime}, fn) -> data area bytes */
static napi_value js_udp_ring_start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], out, name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "vantage-pcap: udpRingStart(h, buf, opts, fn)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  int gre = get_opt_int(env, argv[2], "gre", 0);
  if (h->kind != (gre ? KIND_RAW : KIND_UDP))
    return throw_code(env, "EINVAL",
                      gre ? "vantage-pcap: udpRingStart: gre needs a raw socket handle"
                          : "vantage-pcap: udpRingStart needs a UDP handle");
  if (h->ring || h->poll) return throw_code(env, "EBUSY", "vantage-pcap: the socket is already read");
  void *data = NULL;
  size_t len = 0;
  if (!get_buffer(env, argv[1], &data, &len, "vantage-pcap: udpRingStart: buf must be a Buffer")) return NULL;
  if (((uintptr_t)data & 7) != 0 || len < RING_CTL + 65536)
    return throw_code(env, "EINVAL", "vantage-pcap: udpRingStart: buf must be 8-aligned and hold at least 64 KiB of ring");
  uint32_t size = 65536;
  while ((size_t)size * 2 <= len - RING_CTL && size < (1u << 31)) size *= 2;
  napi_valuetype t = napi_undefined;
  napi_typeof(env, argv[3], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "vantage-pcap: udpRingStart: fn must be a function");
    return NULL;
  }
  int sampling = get_opt_int(env, argv[2], "sampling", 0);
  int max_level = get_opt_int(env, argv[2], "maxLevel", 4);
  int entries = get_opt_int(env, argv[2], "tableEntries", 1 << 20);
  int nice = get_opt_int(env, argv[2], "nice", 0);
  int rt = get_opt_int(env, argv[2], "realtime", 0);
  if (max_level < 0 || max_level > 15) return throw_code(env, "EINVAL", "vantage-pcap: udpRingStart: maxLevel 0..15");
  ring_rx *r = calloc(1, sizeof *r);
  if (!r) return throw_code(env, "ENOMEM", "udpRingStart: out of memory");
  r->fd = h->fd;
  r->ctl = (uint32_t *)data;
  r->cnt = (double *)((uint8_t *)data + 64);
  r->data = (uint8_t *)data + RING_CTL;
  r->size = size;
  r->env = env;
  r->gre = gre;
  r->tzsp = gre ? 0 : get_opt_int(env, argv[2], "tzsp", 0);
  r->vxlan = gre || r->tzsp ? 0 : get_opt_int(env, argv[2], "vxlan", 1);
  r->sampling = sampling;
  r->max_level = max_level;
  r->nice = nice < -20 ? -20 : nice > 19 ? 19 : nice;
  r->rt = rt < 0 ? 0 : rt > 99 ? 99 : rt;
  memset(data, 0, RING_CTL);
  r->scratch = malloc((size_t)RING_BATCH * RING_SLOT);
  if (sampling) {
    uint32_t buckets = 1024;
    while (buckets * 2 * RING_WAYS <= (uint32_t)(entries > 4096 ? entries : 4096)) buckets *= 2;
    r->buckets_mask = buckets - 1;
    r->table = calloc((size_t)buckets * RING_WAYS, sizeof(uint64_t));
  }
  if (!r->scratch || (sampling && !r->table)) {
    free(r->scratch);
    free(r->table);
    free(r);
    return throw_code(env, "ENOMEM", "udpRingStart: out of memory");
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  memset(&ss, 0, sizeof ss);
  getsockname(h->fd, (struct sockaddr *)&ss, &sl);
  if (ss.ss_family == AF_INET6) {
    const uint8_t *x = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    r->local_v6 = memcmp(x, mapped, 12) != 0;
    memcpy(r->local, x, 16);
  } else {
    r->local[10] = 0xff;
    r->local[11] = 0xff;
    memcpy(r->local + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
  }
  napi_status st = napi_create_reference(env, argv[1], 1, &r->buf_ref);
  if (st == napi_ok) st = napi_create_string_utf8(env, "vantage-pcap.ring", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok)
    st = napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, NULL, NULL, &r->tsfn);
  if (st != napi_ok) {
    if (r->buf_ref) napi_delete_reference(env, r->buf_ref);
    free(r->scratch);
    free(r->table);
    free(r);
    napi_throw_error(env, NULL, "vantage-pcap: udpRingStart: N-API call failed");
    return NULL;
  }
  if (pthread_create(&r->thr, NULL, ring_main, r) != 0) {
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    napi_delete_reference(env, r->buf_ref);
    free(r->scratch);
    free(r->table);
    free(r);
    return throw_code(env, "EAGAIN", "udpRingStart: cannot start the receive thread");
  }
  h->ring = r;
  CHECK(napi_create_uint32(env, size, &out));
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external) return NULL;
  napi_get_value_external(env, argv[0], &p);
  handle_t *h = (handle_t *)p;
  if (h->busy) h->closing = 1;
  else really_close(h);
  return NULL;
}

/* interfaces() -> names libpcap can open (for error messages). */
static napi_value js_interfaces(napi_env env, napi_callback_info info) {
  pcap_if_t *all = NULL;
  char errbuf[PCAP_ERRBUF_SIZE];
  napi_value arr, s;
  CHECK(napi_create_array(env, &arr));
  if (pcap_findalldevs(&all, errbuf) != 0) return arr;
  uint32_t i = 0;
  for (pcap_if_t *d = all; d; d = d->next) {
    napi_create_string_utf8(env, d->name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i++, s);
  }
  pcap_freealldevs(all);
  return arr;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  napi_value s;
  CHECK(napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &s));
  return s;
}

/* mallocArenaMax(n): glibc's M_ARENA_MAX for arenas made from now on (threads started later).
 * Every thread that mallocs gets an arena of up to 64 MiB by default; a memory budget wants few. */
static napi_value js_malloc_arena_max(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "mallocArenaMax: a count of at least 1");
    return NULL;
  }
  napi_value r;
  CHECK(napi_get_boolean(env, mallopt(M_ARENA_MAX, n) == 1, &r));
  return r;
}

/* mallocMmapThreshold(n): glibc's M_MMAP_THRESHOLD from now on, in every arena. By default the
 * threshold starts at 128 KiB and rises to the size of each mapped block freed (up to 32 MiB), so
 * after the first large buffers are freed every later block below that size is carved from the
 * heaps and kept there once freed; a fixed threshold gives each large block back when it is freed
 * (MALLOC_MMAP_THRESHOLD_ in the environment does the same from the process's start). */
static napi_value js_malloc_mmap_threshold(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 4096 || n > (32 << 20)) {
    napi_throw_range_error(env, NULL, "mallocMmapThreshold: bytes from 4096 to 32 MiB");
    return NULL;
  }
  napi_value r;
  CHECK(napi_get_boolean(env, mallopt(M_MMAP_THRESHOLD, n) == 1, &r));
  return r;
}

/* bufferAddress(ab): where an ArrayBuffer's bytes are in memory, as a number (user-space
 * addresses fit in 53 bits). The embedded store writes DuckDB string_t values that point at
 * UTF-8 bytes it keeps in such a buffer, instead of one N-API call per string: V8 never moves
 * an ArrayBuffer's backing store, and DuckDB's appender copies the bytes when it takes the
 * chunk. The caller keeps the buffer alive (and undetached) until then. */
static napi_value js_buffer_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_ab = false;
  void *data = NULL;
  size_t len = 0;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab ||
      napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || len == 0 || data == NULL ||
      (uintptr_t)data + len > ((uintptr_t)1 << 53)) {
    napi_throw_type_error(env, NULL, "bufferAddress: a non-empty ArrayBuffer below 2^53");
    return NULL;
  }
  napi_value r;
  CHECK(napi_create_double(env, (double)(uintptr_t)data, &r));
  return r;
}

/* mallocInfo(): glibc's heap over all arenas (mallinfo2): bytes in use, free but kept, and
 * mapped. What Node and DuckDB's C++ objects allocate and free beside V8 and jemalloc. */
static napi_value js_malloc_info(napi_env env, napi_callback_info info) {
  (void)info;
  struct mallinfo2 m = mallinfo2();
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_double(env, (double)m.uordblks + (double)m.hblkhd, &v));
  CHECK(napi_set_named_property(env, o, "used", v));
  CHECK(napi_create_double(env, (double)m.fordblks, &v));
  CHECK(napi_set_named_property(env, o, "free", v));
  CHECK(napi_create_double(env, (double)m.arena + (double)m.hblkhd, &v));
  CHECK(napi_set_named_property(env, o, "mapped", v));
  /* Of which blocks in mappings of their own (above the mmap threshold). */
  CHECK(napi_create_double(env, (double)m.hblkhd, &v));
  CHECK(napi_set_named_property(env, o, "ownMappings", v));
  return o;
}

/* mallocTrim(): glibc's malloc_trim(0), which gives the pages inside every arena's free chunks
 * back to the kernel (not only the top of the main heap), and returns whether any was. glibc
 * keeps freed memory resident for reuse, and with threads sharing few arenas each new peak of a
 * rare burst (a compaction beside a checkpoint and a query) leaves a larger pool of free pages:
 * a process that runs for months would otherwise carry its highest fragmentation forever. */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_get_boolean(env, malloc_trim(0) != 0, &r));
  return r;
}

/* Strings of a JS array as a NULL-terminated malloc'd vector (NULL when it is not one). */
static char **get_strings(napi_env env, napi_value arr) {
  bool is = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &is) != napi_ok || !is || napi_get_array_length(env, arr, &n) != napi_ok)
    return NULL;
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok || !(v[i] = get_string(env, e))) {
      for (uint32_t j = 0; j < i; j++) free(v[j]);
      free(v);
      return NULL;
    }
  }
  return v;
}

/* execve(path, argv, env): run path in place of this process, keeping its pid, so a supervisor
 * (or kill -9) still holds the process it started: how `vantage start` gives the main thread V8
 * flags that only a process start can set (Node 20 has no process.execve). Descriptors Node and
 * libuv open are close-on-exec but stdio, which Node marks so too, is kept; the signal mask is
 * cleared (a blocked signal would stay blocked).
 * Returns only when execve failed, by throwing with errno's message. */
static napi_value js_execve(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = argc > 0 ? get_string(env, argv[0]) : NULL;
  char **args = argc > 1 ? get_strings(env, argv[1]) : NULL;
  char **envp = argc > 2 ? get_strings(env, argv[2]) : NULL;
  if (!path || !args || !envp || !args[0]) {
    napi_throw_type_error(env, NULL, "execve: a path, an argv array of strings and an env array of strings");
  } else {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    /* Node marks its stdio close-on-exec: the new image must keep them. */
    for (int fd = 0; fd <= 2; fd++) {
      int fl = fcntl(fd, F_GETFD);
      if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    execve(path, args, envp);
    char msg[256];
    snprintf(msg, sizeof msg, "execve %s: %s", path, strerror(errno));
    napi_throw_error(env, NULL, msg);
  }
  free(path);
  for (char **p = args; p && *p; p++) free(*p);
  free(args);
  for (char **p = envp; p && *p; p++) free(*p);
  free(envp);
  return NULL;
}

/* copyRecords(dst, dstOff, src, srcOff, len, usToNs): copy a run of pcap records into the
 * packet recorder's write block with one memcpy. V8 copies into a SharedArrayBuffer with relaxed
 * atomics, a byte at a time when the two addresses differ mod 8; here it is a plain memcpy.
 * With usToNs each record header's fraction is scaled from microseconds to nanoseconds (the
 * headers are little-endian, as the recorder checked). Returns the bytes copied. */
static napi_value js_copy_records(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *views[2];
  size_t lens[2];
  for (int i = 0; i < 2; i++) {
    napi_typedarray_type type;
    void *data = NULL;
    if (argc < 6 || napi_get_typedarray_info(env, argv[i * 2], &type, &lens[i], &data, NULL, NULL) != napi_ok ||
        type != napi_uint8_array) {
      napi_throw_type_error(env, NULL, "copyRecords: dst and src are Uint8Arrays");
      return NULL;
    }
    views[i] = data;
  }
  int64_t dstOff = -1, srcOff = -1, len = -1;
  bool us = false;
  if (napi_get_value_int64(env, argv[1], &dstOff) != napi_ok || napi_get_value_int64(env, argv[3], &srcOff) != napi_ok ||
      napi_get_value_int64(env, argv[4], &len) != napi_ok || napi_get_value_bool(env, argv[5], &us) != napi_ok ||
      dstOff < 0 || srcOff < 0 || len < 0 || (uint64_t)(dstOff + len) > lens[0] || (uint64_t)(srcOff + len) > lens[1]) {
    napi_throw_range_error(env, NULL, "copyRecords: offsets and length inside both arrays");
    return NULL;
  }
  uint8_t *d = views[0] + dstOff;
  memcpy(d, views[1] + srcOff, (size_t)len);
  if (us) {
    for (int64_t o = 0; o + 16 <= len;) {
      uint8_t *h = d + o;
      uint32_t frac = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
      uint32_t cap = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
      frac *= 1000u;
      h[4] = frac & 0xff;
      h[5] = (frac >> 8) & 0xff;
      h[6] = (frac >> 16) & 0xff;
      h[7] = frac >> 24;
      o += 16 + (int64_t)cap;
    }
  }
  napi_value r;
  CHECK(napi_create_int64(env, len, &r));
  return r;
}

// quic_initial.c
napi_value js_quic_initial_keys(napi_env env, napi_callback_info info);
napi_value js_quic_open_initial(napi_env env, napi_callback_info info);

/* adviseHugePages(u8): ask for transparent huge pages (MADV_HUGEPAGE) from the first 2 MiB
 * boundary inside a Uint8Array's memory to its end, before the memory is first touched: the
 * packet recorder's write blocks are pinned page by page for every O_DIRECT write and copied
 * into at memory speed, so 4 KiB pages cost a pin and a TLB entry each. Returns the byte offset
 * of that boundary in the array (where a block's data should start), or -1 when no whole huge
 * page fits or the kernel refused. */
static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  void *data = NULL;
  size_t len = 0;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "adviseHugePages: a Uint8Array");
    return NULL;
  }
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t a = ((uintptr_t)data + huge - 1) & ~(huge - 1);
  uintptr_t b = ((uintptr_t)data + len) & ~(huge - 1);
  double at = -1;
#ifdef MADV_HUGEPAGE
  if (b > a && madvise((void *)a, b - a, MADV_HUGEPAGE) == 0) at = (double)(a - (uintptr_t)data);
#endif
  napi_value r;
  CHECK(napi_create_double(env, at, &r));
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"datalink", NULL, js_datalink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"read", NULL, js_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"inject", NULL, js_inject, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rawOpen", NULL, js_raw_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rawSend", NULL, js_raw_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpOpen", NULL, js_udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unixDgramOpen", NULL, js_unix_dgram_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"address", NULL, js_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvBatch", NULL, js_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpRingStart", NULL, js_udp_ring_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"interfaces", NULL, js_interfaces, NULL, NULL, NULL, napi_enumerable, NULL},
      {"libVersion", NULL, js_version, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocArenaMax", NULL, js_malloc_arena_max, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocMmapThreshold", NULL, js_malloc_mmap_threshold, NULL, NULL, NULL, napi_enumerable, NULL},
      {"execve", NULL, js_execve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocInfo", NULL, js_malloc_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyRecords", NULL, js_copy_records, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bufferAddress", NULL, js_buffer_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"quicInitialKeys", NULL, js_quic_initial_keys, NULL, NULL, NULL, napi_enumerable, NULL},
      {"quicOpenInitial", NULL, js_quic_open_initial, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adviseHugePages", NULL, js_advise_huge_pages, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
