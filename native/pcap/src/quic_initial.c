// QUIC v1 Initial packets opened in C (RFC 9001 §5): the key derivation, the header-protection
// mask and AES-128-GCM through the OpenSSL that Node links and exports, so nothing new is linked
// or downloaded. In JavaScript each connection cost two cipher objects and five HMAC objects,
// because every connection has its own keys; here the contexts of each thread are keyed again
// for each packet, which costs a key schedule and nothing else. HMAC is written out over a reused
// digest context: OpenSSL's one-shot HMAC() fetches SHA-256 and makes a context on every call,
// 5.1 us for a connection's five HMACs against 1.3 us this way.
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

// key 16, iv 12, hp 16: the layout of the keys buffer both functions share with JavaScript.
#define KEYS_LEN 44

static const uint8_t INITIAL_SALT_V1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                            0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};

// One pair per thread: the addon is loaded by the main thread and by each worker, and a
// context is state.
typedef struct {
  EVP_CIPHER_CTX *gcm;
  EVP_CIPHER_CTX *ecb;
  EVP_MD_CTX *md;
  EVP_MD *sha256;
} quic_ctx;

static _Thread_local quic_ctx tls_ctx;

static void quic_ctx_free(void *arg) {
  quic_ctx *c = arg;
  EVP_CIPHER_CTX_free(c->gcm);
  EVP_CIPHER_CTX_free(c->ecb);
  EVP_MD_CTX_free(c->md);
  EVP_MD_free(c->sha256);
  c->gcm = NULL;
  c->ecb = NULL;
  c->md = NULL;
  c->sha256 = NULL;
}

static quic_ctx *quic_ctx_get(napi_env env) {
  quic_ctx *c = &tls_ctx;
  if (c->gcm != NULL) return c;
  c->gcm = EVP_CIPHER_CTX_new();
  c->ecb = EVP_CIPHER_CTX_new();
  c->md = EVP_MD_CTX_new();
  c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (c->gcm == NULL || c->ecb == NULL || c->md == NULL || c->sha256 == NULL || EVP_DecryptInit_ex(c->gcm, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
      EVP_EncryptInit_ex(c->ecb, EVP_aes_128_ecb(), NULL, NULL, NULL) != 1 ||
      EVP_CIPHER_CTX_set_padding(c->ecb, 0) != 1) {
    quic_ctx_free(c);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, quic_ctx_free, c);
  return c;
}

// HMAC-SHA256 (RFC 2104) with a key of at most one block, as HKDF needs here.
static int hmac_sha256(quic_ctx *c, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                       uint8_t out[32]) {
  uint8_t pad[64], inner[32];
  unsigned int n = 0;
  if (key_len > sizeof pad) return 0;
  memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < key_len; i++) pad[i] ^= key[i];
  if (EVP_DigestInit_ex2(c->md, c->sha256, NULL) != 1 || EVP_DigestUpdate(c->md, pad, sizeof pad) != 1 ||
      EVP_DigestUpdate(c->md, msg, msg_len) != 1 || EVP_DigestFinal_ex(c->md, inner, &n) != 1 || n != 32)
    return 0;
  memset(pad, 0x5c, sizeof pad);
  for (size_t i = 0; i < key_len; i++) pad[i] ^= key[i];
  return EVP_DigestInit_ex2(c->md, c->sha256, NULL) == 1 && EVP_DigestUpdate(c->md, pad, sizeof pad) == 1 &&
         EVP_DigestUpdate(c->md, inner, sizeof inner) == 1 && EVP_DigestFinal_ex(c->md, out, &n) == 1 && n == 32;
}

// HKDF-Expand-Label of TLS 1.3 with an empty context; out_len <= 32 (one HMAC block).
static int expand_label(quic_ctx *c, const uint8_t *secret, const char *label, uint8_t *out, size_t out_len) {
  uint8_t info[64];
  size_t ll = strlen(label);
  size_t n = 0;
  info[n++] = (uint8_t)(out_len >> 8);
  info[n++] = (uint8_t)out_len;
  info[n++] = (uint8_t)(6 + ll);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, ll);
  n += ll;
  info[n++] = 0;  // empty context
  info[n++] = 1;  // HKDF-Expand's counter of the first block
  uint8_t block[32];
  if (!hmac_sha256(c, secret, 32, info, n, block)) return 0;
  memcpy(out, block, out_len);
  return 1;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

// quicInitialKeys(dcid, off, len, server, out): the client's (or the server's) Initial key, iv
// and hp for the client's first DCID dcid[off, off + len), written to out[0, 44). Returns 44, or
// -1 when an argument is out of range.
napi_value js_quic_initial_keys(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  uint8_t *dcid, *out;
  size_t dcid_len, out_len;
  int32_t off, len;
  bool server;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      !get_bytes(env, argv[0], &dcid, &dcid_len) || napi_get_value_int32(env, argv[1], &off) != napi_ok ||
      napi_get_value_int32(env, argv[2], &len) != napi_ok || napi_get_value_bool(env, argv[3], &server) != napi_ok ||
      !get_bytes(env, argv[4], &out, &out_len) || off < 0 || len < 0 || len > 255 ||
      (size_t)off + (size_t)len > dcid_len || out_len < KEYS_LEN)
    return int_result(env, -1);
  quic_ctx *c = quic_ctx_get(env);
  uint8_t initial[32], secret[32];
  if (c == NULL || !hmac_sha256(c, INITIAL_SALT_V1, sizeof INITIAL_SALT_V1, dcid + off, (size_t)len, initial) ||
      !expand_label(c, initial, server ? "server in" : "client in", secret, 32) ||
      !expand_label(c, secret, "quic key", out, 16) || !expand_label(c, secret, "quic iv", out + 16, 12) ||
      !expand_label(c, secret, "quic hp", out + 28, 16))
    return int_result(env, -1);
  return int_result(env, KEYS_LEN);
}

// quicOpenInitial(b, off, pnOff, end, keys, out): the Initial packet b[off, end) whose protected
// packet number starts at pnOff, opened with keys[0, 44) (quicInitialKeys' layout): header
// protection removed, the payload authenticated and decrypted into out[0, n). Returns n, or -1
// when the packet is cut short, does not fit out, or fails authentication. b is never written:
// it is the capture's buffer, and the unmasked header goes to GCM as additional data in pieces.
napi_value js_quic_open_initial(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  uint8_t *b, *keys, *out;
  size_t b_len, keys_len, out_len;
  int32_t off, pn_off, end;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 ||
      !get_bytes(env, argv[0], &b, &b_len) || napi_get_value_int32(env, argv[1], &off) != napi_ok ||
      napi_get_value_int32(env, argv[2], &pn_off) != napi_ok || napi_get_value_int32(env, argv[3], &end) != napi_ok ||
      !get_bytes(env, argv[4], &keys, &keys_len) || !get_bytes(env, argv[5], &out, &out_len) || keys_len < KEYS_LEN)
    return int_result(env, -1);
  // The sample starts 4 bytes after the packet number's start, whatever its length (§5.4.2).
  if (off < 0 || pn_off <= off || end < 0 || (size_t)end > b_len || (int64_t)pn_off + 4 + 16 > end)
    return int_result(env, -1);
  quic_ctx *c = quic_ctx_get(env);
  if (c == NULL) return int_result(env, -1);
  uint8_t mask[16];
  int ml = 0;
  if (EVP_EncryptInit_ex(c->ecb, NULL, NULL, keys + 28, NULL) != 1 ||
      EVP_EncryptUpdate(c->ecb, mask, &ml, b + pn_off + 4, 16) != 1 || ml != 16)
    return int_result(env, -1);
  uint8_t b0 = b[off] ^ (mask[0] & 0x0f);  // long header: the low 4 bits are protected
  int pn_len = (b0 & 3) + 1;
  uint8_t pn_bytes[4];
  uint32_t pn = 0;
  for (int i = 0; i < pn_len; i++) {
    pn_bytes[i] = b[pn_off + i] ^ mask[1 + i];
    pn = pn << 8 | pn_bytes[i];
  }
  int32_t ct = pn_off + pn_len;
  int32_t tag = end - 16;
  if (tag < ct || (size_t)(tag - ct) > out_len) return int_result(env, -1);
  uint8_t nonce[12];
  memcpy(nonce, keys + 16, 12);
  for (int i = 0; i < 4; i++) nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
  int l = 0, fl = 0;
  if (EVP_DecryptInit_ex(c->gcm, NULL, NULL, keys, nonce) != 1 ||
      EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_GCM_SET_TAG, 16, b + tag) != 1 ||
      EVP_DecryptUpdate(c->gcm, NULL, &l, &b0, 1) != 1 ||
      EVP_DecryptUpdate(c->gcm, NULL, &l, b + off + 1, pn_off - off - 1) != 1 ||
      EVP_DecryptUpdate(c->gcm, NULL, &l, pn_bytes, pn_len) != 1 ||
      EVP_DecryptUpdate(c->gcm, out, &l, b + ct, tag - ct) != 1 || EVP_DecryptFinal_ex(c->gcm, out + l, &fl) != 1)
    return int_result(env, -1);
  return int_result(env, l + fl);
}
