// SPDX-License-Identifier: MIT
// OpenSSL 3 backend of braid/tls.h (BRAID_TLS=openssl), the twin of src/tls.cc + tls_keygen.cc:
// configuration, pinning, session tickets, keygen, and a TLS connection over BIOs that read and
// write the connection's own `in` and `out` buffers (no memory BIO in between to copy through).
#include "braid/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "braid/config.h"
#include "braid/loop.h"

#if OPENSSL_VERSION_MAJOR < 3
#error "BRAID_TLS=openssl needs OpenSSL 3.0 or later"
#endif

namespace braid {
namespace {

constexpr long TICKET_LIFETIME_S = 12 * 3600;  // as the mbedTLS backend's ticket context
constexpr size_t WRITE_CHUNK = 64 * 1024;      // plaintext per SSL_write: bounds the BIO's growth

// The oldest queued OpenSSL error (the cause, not the wrapper), with its detail text; clears
// the queue. `fallback` when OpenSSL recorded nothing.
std::string ssl_errors(const char *fallback) {
  std::string out;
  const char *data = nullptr;
  int flags = 0;
  unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
  if (e) {
    const char *reason = ERR_reason_error_string(e);
    if (reason) {
      out = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out = buf;
    }
    if (data && *data && (flags & ERR_TXT_STRING)) out += std::string(" (") + data + ")";
  }
  ERR_clear_error();
  return out.empty() ? fallback : out;
}

// Pin: SHA-256 over the DER SubjectPublicKeyInfo, as src/tls.cc hashes mbedTLS's pk_raw.
std::string pin_of(EVP_PKEY *pk) {
  unsigned char *der = nullptr;
  int len = pk ? i2d_PUBKEY(pk, &der) : -1;
  if (len <= 0) return "";
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hl = 0;
  bool ok = EVP_Digest(der, size_t(len), h, &hl, EVP_sha256(), nullptr) == 1 && hl == 32;
  OPENSSL_free(der);
  return ok ? "sha256:" + hex_encode(std::string(reinterpret_cast<char *>(h), 32)) : "";
}

// AES-GCM first where the CPU has AES instructions, else ChaCha20 (same rule as src/tls.cc,
// which can only tell on x86-64).
bool aes_fast() {
  if (cipher_override() >= 0) return cipher_override() == 1;
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("aes");
#elif defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#else
  return false;
#endif
}

// Reads the first PEM certificate of path; err names the file.
X509 *read_cert(const std::string &path, std::string &err) {
  BIO *b = BIO_new_file(path.c_str(), "r");
  if (!b) {
    int e = errno;
    ERR_clear_error();
    err = path + ": cannot load certificate: " + strerror(e);
    return nullptr;
  }
  X509 *x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (!x) err = path + ": cannot load certificate: " + ssl_errors("not a PEM certificate");
  return x;
}

// A key file is never encrypted here: refuse a passphrase instead of prompting on the tty.
int no_passphrase(char *, int, int, void *) { return -1; }

// The BIO under every SSL: reads ciphertext from the TlsConn's `in`, appends what OpenSSL
// writes to its `out`. Neither ever blocks; an empty `in` is "retry", never end of stream.
int bio_write(BIO *b, const char *p, int n) {
  BIO_clear_retry_flags(b);
  if (n <= 0) return 0;
  static_cast<TlsConn *>(BIO_get_data(b))->out.append(p, size_t(n));
  return n;
}

int bio_read(BIO *b, char *p, int n) {
  BIO_clear_retry_flags(b);
  Buf &in = static_cast<TlsConn *>(BIO_get_data(b))->in;
  if (n <= 0) return 0;
  if (in.empty()) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t k = size_t(n) < in.size() ? size_t(n) : in.size();
  memcpy(p, in.data(), k);
  in.consume(k);
  return int(k);
}

long bio_ctrl(BIO *, int cmd, long, void *) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD *buf_bio_method() {
  static BIO_METHOD *m = [] {
    BIO_METHOD *bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "braid buffers");
    if (bm) {
      BIO_meth_set_write(bm, bio_write);
      BIO_meth_set_read(bm, bio_read);
      BIO_meth_set_ctrl(bm, bio_ctrl);
      BIO_meth_set_create(bm, bio_create);
    }
    return bm;
  }();
  return m;
}

}  // namespace

// Server ticket keys: `cur` seals new tickets, `prev` still opens the ones sealed during the
// previous period, so a ticket opens for one to two periods (12 to 24 h) and a stolen key
// exposes at most two periods of resumed TLS 1.2 sessions (mbedTLS's ticket context rotates so).
struct TicketKey {
  unsigned char name[16], aes[32], mac[32];
  time_t born = 0;
};

struct TlsConfigImpl {
  SSL_CTX *ctx = nullptr;
  std::string pin;  // client: expected, 32 raw bytes
  bool is_server = false;
  // Client: the newest session the server gave us (a TLS 1.2 session at the end of the
  // handshake, TLS 1.3 tickets after it, while reading); offered by the next TlsConn.
  SSL_SESSION *saved = nullptr;
  TicketKey cur, prev;
  ~TlsConfigImpl() {
    SSL_SESSION_free(saved);
    SSL_CTX_free(ctx);
    OPENSSL_cleanse(&cur, sizeof cur);
    OPENSSL_cleanse(&prev, sizeof prev);
  }
  void rotate(time_t now) {
    if (cur.born != 0 && now - cur.born < TICKET_LIFETIME_S) return;
    prev = cur;
    if (now - prev.born >= 2 * TICKET_LIFETIME_S) prev = TicketKey{};  // idle for a long time
    rand_bytes(cur.name, sizeof cur.name);
    rand_bytes(cur.aes, sizeof cur.aes);
    rand_bytes(cur.mac, sizeof cur.mac);
    cur.born = now;
  }
};

struct TlsConnImpl {
  SSL *ssl = nullptr;
  BIO *rbio = nullptr, *wbio = nullptr;  // owned by ssl
  TlsConfigImpl *cfg = nullptr;
  std::string peer_pin;
  bool pin_checked = false, pin_mismatch = false;
  ~TlsConnImpl() { SSL_free(ssl); }
};

namespace {

// Pinning replaces chain verification: the leaf's SubjectPublicKeyInfo must hash to the pin.
// Chain and name do not matter (the certificate is self-signed by design); failing here aborts
// the handshake before the client sends any application data.
int verify_pin(X509_STORE_CTX *x, void *) {
  SSL *ssl = static_cast<SSL *>(X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsConnImpl *c = ssl ? static_cast<TlsConnImpl *>(SSL_get_app_data(ssl)) : nullptr;
  if (!c) return 0;
  X509 *leaf = X509_STORE_CTX_get0_cert(x);
  c->peer_pin = leaf ? pin_of(X509_get0_pubkey(leaf)) : "";
  c->pin_checked = true;
  if (c->peer_pin.empty() || c->peer_pin != "sha256:" + hex_encode(c->cfg->pin)) {
    c->pin_mismatch = true;
    X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  X509_STORE_CTX_set_error(x, X509_V_OK);
  return 1;
}

// Client: keeps a copy of the newest resumable session of a pinned server (see TlsConn::TlsConn
// for why a copy).
int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  TlsConnImpl *c = static_cast<TlsConnImpl *>(SSL_get_app_data(ssl));
  if (!c || c->pin_mismatch || !SSL_SESSION_is_resumable(sess)) return 0;
  if (SSL_SESSION *copy = SSL_SESSION_dup(sess)) {
    SSL_SESSION_free(c->cfg->saved);
    c->cfg->saved = copy;
  }
  return 0;  // OpenSSL keeps its reference
}

// Server: seals (enc = 1) or opens a session ticket with the rotating keys (AES-256-CBC +
// HMAC-SHA256, the format OpenSSL's callback API fixes). 2 asks for a fresh ticket.
int ticket_key(SSL *ssl, unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX *ectx,
               EVP_MAC_CTX *hctx, int enc) {
  TlsConfigImpl *cfg = static_cast<TlsConfigImpl *>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  cfg->rotate(time(nullptr));
  const TicketKey *k = &cfg->cur;
  if (enc) {
    memcpy(name, k->name, 16);
    rand_bytes(iv, 16);
  } else if (memcmp(name, cfg->cur.name, 16) != 0) {
    k = &cfg->prev;
    if (k->born == 0 || memcmp(name, k->name, 16) != 0) return 0;  // unknown: full handshake
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char *>(k->mac), 32),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (!EVP_MAC_CTX_set_params(hctx, params)) return -1;
  int ok = enc ? EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), nullptr, k->aes, iv)
               : EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), nullptr, k->aes, iv);
  if (!ok) return -1;
  return enc || k == &cfg->cur ? 1 : 2;
}

// Both sides: TLS 1.2 minimum, ECDHE-ECDSA with AEADs only, EC groups only (so a TLS 1.3 key
// exchange is ECDHE too), ECDSA signatures only, no renegotiation (mbedTLS's default).
bool ctx_common(SSL_CTX *ctx, std::string &err) {
  const char *tls12 = aes_fast() ? "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
                                   "ECDHE-ECDSA-AES256-GCM-SHA384"
                                 : "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
                                   "ECDHE-ECDSA-AES256-GCM-SHA384";
  const char *tls13 = aes_fast() ? "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                                   "TLS_AES_256_GCM_SHA384"
                                 : "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
                                   "TLS_AES_256_GCM_SHA384";
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_cipher_list(ctx, tls12) == 1 && SSL_CTX_set_ciphersuites(ctx, tls13) == 1 &&
            SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1 &&
            SSL_CTX_set1_sigalgs_list(ctx, "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512") == 1;
  if (!ok) {
    err = "tls: cannot configure OpenSSL: " + ssl_errors("unsupported setting");
    return false;
  }
  // Server preference, except that a client listing ChaCha20 first (an mbedTLS router without
  // AES instructions, tls.cc) gets ChaCha20: it costs the router far less than AES in software.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_PRIORITIZE_CHACHA);
  SSL_CTX_set_timeout(ctx, TICKET_LIFETIME_S);
  return true;
}

}  // namespace

TlsConfig::~TlsConfig() = default;

std::unique_ptr<TlsConfig> TlsConfig::client(const std::string &pin, std::string &err) {
  auto c = std::unique_ptr<TlsConfig>(new TlsConfig);
  c->impl_.reset(new TlsConfigImpl);
  TlsConfigImpl &i = *c->impl_;
  i.pin = pin;
  i.ctx = SSL_CTX_new(TLS_client_method());
  if (!i.ctx) {
    err = "tls: client configuration failed: " + ssl_errors("out of memory");
    return nullptr;
  }
  if (!ctx_common(i.ctx, err)) return nullptr;
  // PEER + a verify callback that replaces chain checks: the pin is the only trust anchor.
  SSL_CTX_set_verify(i.ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(i.ctx, verify_pin, nullptr);
  SSL_CTX_set_session_cache_mode(i.ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(i.ctx, on_new_session);
  return c;
}

std::unique_ptr<TlsConfig> TlsConfig::server(const std::string &cert, const std::string &key,
                                             std::string &err) {
  auto c = std::unique_ptr<TlsConfig>(new TlsConfig);
  c->impl_.reset(new TlsConfigImpl);
  TlsConfigImpl &i = *c->impl_;
  i.is_server = true;
  X509 *x = read_cert(cert, err);
  if (!x) {
    err += "; create one with \"braid keygen\"";
    return nullptr;
  }
  EVP_PKEY *pk = nullptr;
  if (BIO *b = BIO_new_file(key.c_str(), "r")) {
    pk = PEM_read_bio_PrivateKey(b, nullptr, no_passphrase, nullptr);
    BIO_free(b);
    if (!pk) err = key + ": cannot load private key: " + ssl_errors("not a PEM private key");
  } else {
    int e = errno;
    ERR_clear_error();
    err = key + ": cannot load private key: " + strerror(e);
  }
  if (!pk) {
    X509_free(x);
    err += "; create one with \"braid keygen\"";
    return nullptr;
  }
  bool pair = X509_check_private_key(x, pk) == 1;
  std::string why = pair ? "" : ssl_errors("key values mismatch");
  i.ctx = SSL_CTX_new(TLS_server_method());
  std::string common_err;
  bool ok = i.ctx && pair && ctx_common(i.ctx, common_err);
  // The chain file form also sends any intermediates that follow the leaf, as mbedTLS does.
  if (ok && (SSL_CTX_use_certificate_chain_file(i.ctx, cert.c_str()) != 1 ||
             SSL_CTX_use_PrivateKey(i.ctx, pk) != 1 || SSL_CTX_check_private_key(i.ctx) != 1)) {
    ok = false;
    why = ssl_errors("cannot install them");
  }
  X509_free(x);
  EVP_PKEY_free(pk);
  if (!ok) {
    if (!i.ctx) err = "tls: server configuration failed: " + ssl_errors("out of memory");
    else if (!common_err.empty()) err = common_err;
    else err = cert + ", " + key + ": certificate and key do not go together: " + why;
    return nullptr;
  }
  SSL_CTX_set_verify(i.ctx, SSL_VERIFY_NONE, nullptr);  // clients prove themselves in HELLO
  SSL_CTX_set_app_data(i.ctx, &i);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(i.ctx, ticket_key);
  SSL_CTX_set_num_tickets(i.ctx, 1);  // TLS 1.3: one ticket per handshake (the default sends 2)
  return c;
}

TlsConn::TlsConn(TlsConfig &cfg) : impl_(new TlsConnImpl) {
  TlsConnImpl &c = *impl_;
  c.cfg = cfg.impl();
  c.ssl = SSL_new(c.cfg->ctx);
  c.rbio = BIO_new(buf_bio_method());
  c.wbio = BIO_new(buf_bio_method());
  if (!c.ssl || !c.rbio || !c.wbio) {  // out of memory: handshake() reports it
    SSL_free(c.ssl);
    BIO_free(c.rbio);
    BIO_free(c.wbio);
    c.ssl = nullptr;
    ERR_clear_error();
    return;
  }
  BIO_set_data(c.rbio, this);
  BIO_set_data(c.wbio, this);
  SSL_set_bio(c.ssl, c.rbio, c.wbio);
  SSL_set_app_data(c.ssl, &c);
  if (c.cfg->is_server) {
    SSL_set_accept_state(c.ssl);
  } else {
    SSL_set_connect_state(c.ssl);
    if (c.cfg->saved) {
      // A copy: OpenSSL marks a connection's session not resumable when the connection is freed
      // without a close_notify (a lost link), and the kept one must survive that for redials.
      SSL_SESSION *s = SSL_SESSION_dup(c.cfg->saved);
      if (s) SSL_set_session(c.ssl, s);
      SSL_SESSION_free(s);
    }
  }
}

TlsConn::~TlsConn() = default;

namespace {

}  // namespace

TlsResult TlsConn::fail(int ret, const char *what) {
  if (ret == SSL_ERROR_WANT_READ || ret == SSL_ERROR_WANT_WRITE) return TlsResult::WantIo;
  if (ret == SSL_ERROR_ZERO_RETURN) {
    err_ = "peer closed the TLS session";
    return TlsResult::Closed;
  }
  if (impl_->pin_mismatch) {
    ERR_clear_error();
    err_ = "certificate pin mismatch: expected sha256:" + hex_encode(impl_->cfg->pin) + " got " +
           impl_->peer_pin;
    return TlsResult::Error;
  }
  err_ = std::string(what) + ": " +
         ssl_errors(ret == SSL_ERROR_SYSCALL ? "unexpected end of the TLS stream" : "TLS failure");
  return TlsResult::Error;
}

TlsResult TlsConn::handshake() {
  TlsConnImpl &c = *impl_;
  if (!c.ssl) {
    err_ = "tls handshake failed: out of memory";
    return TlsResult::Error;
  }
  ERR_clear_error();
  // OpenSSL takes from `in` only what the record it reads needs (no read-ahead), so records
  // after the last handshake message (the client's first frames, sent right behind its
  // Finished) stay there, and the link reads frames once the handshake is done only if `in` is
  // not empty, as with the mbedTLS backend.
  int ret = SSL_do_handshake(c.ssl);
  int e = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(c.ssl, ret);
  if (ret != 1) return fail(e, "tls handshake failed");
  resumed_ = SSL_session_reused(c.ssl) == 1;
  if (c.cfg->is_server || c.pin_checked) return TlsResult::Ok;
  // A resumed session sends no certificate; the one kept from the full handshake that created
  // the session is checked again (resumption proves the server knows its secret).
  X509 *crt = SSL_get0_peer_certificate(c.ssl);
  if (!crt) {
    err_ = "tls handshake completed without a server certificate to check the pin against";
    return TlsResult::Error;
  }
  c.peer_pin = pin_of(X509_get0_pubkey(crt));
  c.pin_checked = true;
  if (c.peer_pin != "sha256:" + hex_encode(c.cfg->pin)) {
    c.pin_mismatch = true;
    err_ = "certificate pin mismatch: expected sha256:" + hex_encode(c.cfg->pin) + " got " + c.peer_pin;
    return TlsResult::Error;
  }
  return TlsResult::Ok;
}

bool TlsConn::established() const { return impl_->ssl && SSL_is_init_finished(impl_->ssl); }

TlsResult TlsConn::read(uint8_t *buf, size_t cap, size_t *n) {
  TlsConnImpl &c = *impl_;
  if (!c.ssl) return fail(SSL_ERROR_SSL, "tls read failed");
  ERR_clear_error();
  int ret = SSL_read(c.ssl, buf, int(cap < size_t(INT_MAX) ? cap : size_t(INT_MAX)));
  int e = ret > 0 ? SSL_ERROR_NONE : SSL_get_error(c.ssl, ret);
  if (ret > 0) {
    *n = size_t(ret);
    return TlsResult::Ok;
  }
  return fail(e, "tls read failed");
}

TlsResult TlsConn::write(const uint8_t *p, size_t n) {
  TlsConnImpl &c = *impl_;
  if (!c.ssl) return fail(SSL_ERROR_SSL, "tls write failed");
  ERR_clear_error();
  while (n > 0) {
    int ret = SSL_write(c.ssl, p, int(n < WRITE_CHUNK ? n : WRITE_CHUNK));
    if (ret <= 0) {
      int e = SSL_get_error(c.ssl, ret);
      // The write BIO never refuses bytes, so only an unfinished handshake asks to wait.
      return fail(e, "tls write failed");
    }
    p += ret;
    n -= size_t(ret);
  }
  return TlsResult::Ok;
}

void TlsConn::close_notify() {
  if (!impl_->ssl || !SSL_is_init_finished(impl_->ssl)) return;
  SSL_shutdown(impl_->ssl);
  ERR_clear_error();
}

const std::string &TlsConn::peer_pin() const { return impl_->peer_pin; }
bool TlsConn::pin_mismatch() const { return impl_->pin_mismatch; }

// The suite as mbedTLS names it ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"), so logs read the
// same with either backend. TLS 1.3 suites name only the AEAD; the key exchange is ECDHE and the
// signature ECDSA there too (ctx_common), so they read "TLS1.3-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256".
std::string TlsConn::cipher() const {
  const SSL_CIPHER *ci = impl_->ssl ? SSL_get_current_cipher(impl_->ssl) : nullptr;
  const char *std_name = ci ? SSL_CIPHER_standard_name(ci) : nullptr;
  if (!std_name) return "none";
  std::string s = std_name;
  if (SSL_version(impl_->ssl) >= TLS1_3_VERSION && s.compare(0, 4, "TLS_") == 0)
    s = "TLS1.3_ECDHE_ECDSA_WITH_" + s.substr(4);
  for (char &ch : s)
    if (ch == '_') ch = '-';
  return s;
}

std::string hmac_sha256(const std::string &key, const uint8_t *p, size_t n) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), p, n, out, &len);
  return std::string(reinterpret_cast<char *>(out), 32);
}

std::string tls_library_version() {
  return std::string("OpenSSL ") + OpenSSL_version(OPENSSL_VERSION_STRING);
}

// --- keygen and pins (src/tls_keygen.cc for mbedTLS) ------------------------------------------

namespace {

bool write_file(const std::string &path, const void *p, size_t n, mode_t mode, std::string &err) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    err = path + ": cannot write: " + strerror(errno);
    return false;
  }
  fchmod(fd, mode);
  bool ok = ::write(fd, p, n) == ssize_t(n);
  if (!ok) err = path + ": write failed: " + strerror(errno);
  close(fd);
  return ok;
}

// Writes what a PEM writer puts into a memory BIO to path.
template <typename Fn>
bool write_pem(const std::string &path, mode_t mode, std::string &err, Fn pem) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p = nullptr;
  long n = 0;
  bool ok = b && pem(b) == 1 && (n = BIO_get_mem_data(b, &p)) > 0;
  if (!ok) err = path + ": cannot encode: " + ssl_errors("out of memory");
  if (ok) ok = write_file(path, p, size_t(n), mode, err);
  BIO_free(b);
  return ok;
}

// Self-signed X.509 v3 "CN=braid", valid 2025..2049, signed with SHA-256 (as tls_keygen.cc).
X509 *make_cert(EVP_PKEY *pk) {
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  BIGNUM *serial = nullptr;
  unsigned char rnd[16];
  rand_bytes(rnd, sizeof rnd);
  rnd[0] &= 0x7f;
  bool ok = x && name && X509_set_version(x, X509_VERSION_3) == 1 &&
            (serial = BN_bin2bn(rnd, sizeof rnd, nullptr)) != nullptr &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != nullptr &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char *>("braid"), -1, -1, 0) == 1 &&
            X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1 &&
            ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20250101000000Z") == 1 &&
            ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20491231235959Z") == 1 &&
            X509_set_pubkey(x, pk) == 1 && X509_sign(x, pk, EVP_sha256()) > 0;
  BN_free(serial);
  X509_NAME_free(name);
  if (!ok) {
    X509_free(x);
    return nullptr;
  }
  return x;
}

}  // namespace

bool tls_keygen(const std::string &prefix, std::string &pin, std::string &err) {
  EVP_PKEY *pk = EVP_EC_gen("P-256");
  X509 *x = pk ? make_cert(pk) : nullptr;
  bool ok = x != nullptr;
  if (!pk) err = "cannot generate an ECDSA P-256 key: " + ssl_errors("unknown error");
  else if (!x) err = "cannot create certificate: " + ssl_errors("unknown error");
  // SEC 1 "EC PRIVATE KEY", the form mbedTLS writes, so key files move between backends.
  if (ok)
    ok = write_pem(prefix + ".key", 0600, err, [&](BIO *b) {
      return PEM_write_bio_PrivateKey_traditional(b, pk, nullptr, nullptr, 0, nullptr, nullptr);
    });
  if (ok) ok = write_pem(prefix + ".crt", 0644, err, [&](BIO *b) { return PEM_write_bio_X509(b, x); });
  if (ok) pin = pin_of(pk);
  X509_free(x);
  EVP_PKEY_free(pk);
  return ok;
}

bool tls_cert_pin(const std::string &cert_path, std::string &pin, std::string &err) {
  X509 *x = read_cert(cert_path, err);
  if (!x) return false;
  pin = pin_of(X509_get0_pubkey(x));
  X509_free(x);
  return true;
}

}  // namespace braid
