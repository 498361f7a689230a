// SPDX-License-Identifier: MIT
// mbedTLS: configuration, pinning, keygen, and a TLS connection over user-space buffers.
#include "braid/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <mbedtls/version.h>  // first: MBEDTLS_VERSION_NUMBER selects the rest
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#include <mbedtls/aesni.h>  // private since 3.0: AES acceleration is detected below instead
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "braid/config.h"
#include "braid/loop.h"

namespace braid {
namespace {

int rng(void *, unsigned char *out, size_t n) {
  rand_bytes(out, n);
  return 0;
}

std::string strerr(int ret) {
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof buf);
  return buf;
}

std::string sha256_pin(const unsigned char *p, size_t n) {
  unsigned char h[32];
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  mbedtls_sha256(p, n, h, 0);
#else
  mbedtls_sha256_ret(p, n, h, 0);
#endif
  return "sha256:" + hex_encode(std::string(reinterpret_cast<char *>(h), 32));
}

int parse_keyfile(mbedtls_pk_context *pk, const char *path) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pk_parse_keyfile(pk, path, nullptr, rng, nullptr);
#else
  return mbedtls_pk_parse_keyfile(pk, path, nullptr);
#endif
}

// 3.x: TLS 1.3 (and, with MBEDTLS_USE_PSA_CRYPTO, every handshake) needs PSA initialised first,
// or the handshake fails with an internal error (Mbed-TLS/mbedtls #9223).
void global_init() {
#if defined(MBEDTLS_PSA_CRYPTO_C)
  static const psa_status_t status = psa_crypto_init();
  (void)status;
#endif
}

// Whether the CPU accelerates AES for mbedTLS (AES-NI on x86, the ARMv8 crypto extension).
bool aes_accelerated() {
  if (cipher_override() >= 0) return cipher_override() == 1;
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#if defined(MBEDTLS_AESNI_C) && defined(MBEDTLS_HAVE_X86_64)
  return mbedtls_aesni_has_support(MBEDTLS_AESNI_AES);
#else
  return false;
#endif
#elif defined(MBEDTLS_AESNI_C) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("aes");
#elif defined(MBEDTLS_AESCE_C) && defined(__aarch64__) && defined(__linux__) && defined(HWCAP_AES)
  return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#else
  return false;
#endif
}

// Suites in preference order: AES-GCM first where the CPU accelerates AES, else ChaCha20.
// 3.6 negotiates TLS 1.3 when both ends have it; its suites come from the same list.
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define BRAID_TLS13_AES_FIRST                                                             \
  MBEDTLS_TLS1_3_AES_128_GCM_SHA256, MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,             \
      MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
#define BRAID_TLS13_CHACHA_FIRST                                                          \
  MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS1_3_AES_128_GCM_SHA256,             \
      MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
#else
#define BRAID_TLS13_AES_FIRST
#define BRAID_TLS13_CHACHA_FIRST
#endif
const int *suites() {
  static int aes_first[] = {BRAID_TLS13_AES_FIRST MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                            MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                            MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0};
  static int chacha_first[] = {BRAID_TLS13_CHACHA_FIRST MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                               MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                               MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0};
  return aes_accelerated() ? aes_first : chacha_first;
}

}  // namespace

struct TlsConfigImpl {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  std::string pin;  // client: expected, 32 raw bytes
  bool is_server = false;
  // Resumption: the server issues tickets; the client keeps the last session it established
  // and offers it on links 2..K and redials (an abbreviated handshake: no ECDHE, no signature).
  mbedtls_ssl_ticket_context ticket;
  mbedtls_ssl_session saved;
  bool have_saved = false;
  TlsConfigImpl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_ticket_init(&ticket);
    mbedtls_ssl_session_init(&saved);
  }
  ~TlsConfigImpl() {
    mbedtls_ssl_session_free(&saved);
    mbedtls_ssl_ticket_free(&ticket);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&cert);
    mbedtls_pk_free(&key);
  }
};

struct TlsConnImpl {
  mbedtls_ssl_context ssl;
  TlsConn *owner = nullptr;
  TlsConfigImpl *cfg = nullptr;
  std::string peer_pin;
  bool pin_checked = false, pin_mismatch = false;
  TlsConnImpl() { mbedtls_ssl_init(&ssl); }
  ~TlsConnImpl() { mbedtls_ssl_free(&ssl); }
};

namespace {

int bio_send(void *ctx, const unsigned char *p, size_t n) {
  static_cast<TlsConn *>(ctx)->out.append(p, n);
  return static_cast<int>(n);
}

int bio_recv(void *ctx, unsigned char *p, size_t n) {
  Buf &in = static_cast<TlsConn *>(ctx)->in;
  if (in.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
  size_t k = n < in.size() ? n : in.size();
  memcpy(p, in.data(), k);
  in.consume(k);
  return static_cast<int>(k);
}

// Pinning: the leaf certificate's SubjectPublicKeyInfo must hash to the configured pin. Chain
// and name do not matter (the certificate is self-signed by design); returning an error aborts
// the handshake before the client sends any application data.
int verify_pin(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  TlsConnImpl *c = static_cast<TlsConnImpl *>(ctx);
  if (depth != 0) {
    *flags = 0;
    return 0;
  }
  c->peer_pin = sha256_pin(crt->pk_raw.p, crt->pk_raw.len);
  c->pin_checked = true;
  if (c->peer_pin != "sha256:" + hex_encode(c->cfg->pin)) {
    c->pin_mismatch = true;
    return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
  }
  *flags = 0;
  return 0;
}

// TLS 1.2 always; TLS 1.3 too where the library has it (3.6 enables it by default), so two 3.6
// ends speak 1.3 and a 3.6 end falls back to 1.2 with a 2.28 one.
void conf_common(mbedtls_ssl_config &conf) {
  mbedtls_ssl_conf_rng(&conf, rng, nullptr);
  mbedtls_ssl_conf_ciphersuites(&conf, suites());
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  // Resumed 1.3 handshakes still run ECDHE (psk_dhe_ke, as OpenSSL does): forward secrecy.
  mbedtls_ssl_conf_tls13_key_exchange_modes(&conf, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
#endif
}

// Client: keeps the connection's session for the next TlsConn (links 2..K, redials). A TLS 1.2
// session is there when the handshake ends; a TLS 1.3 one only once the server's
// NewSessionTicket, sent after the handshake, has been read. A failed export (1.3 without a
// ticket yet, or a session already exported: 3.x exports each one once) keeps the previous one.
void save_session(TlsConfigImpl *cfg, mbedtls_ssl_context *ssl) {
  mbedtls_ssl_session s;
  mbedtls_ssl_session_init(&s);
  if (mbedtls_ssl_get_session(ssl, &s) != 0) {
    mbedtls_ssl_session_free(&s);
    return;
  }
  mbedtls_ssl_session_free(&cfg->saved);
  cfg->saved = s;  // a shallow move: s's heap members now belong to saved
  cfg->have_saved = true;
}

}  // namespace

TlsConfig::~TlsConfig() = default;

std::unique_ptr<TlsConfig> TlsConfig::client(const std::string &pin, std::string &err) {
  global_init();
  auto c = std::unique_ptr<TlsConfig>(new TlsConfig);
  c->impl_.reset(new TlsConfigImpl);
  TlsConfigImpl &i = *c->impl_;
  i.pin = pin;
  int ret = mbedtls_ssl_config_defaults(&i.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret) {
    err = "tls: client configuration failed: " + strerr(ret);
    return nullptr;
  }
  conf_common(i.conf);
  // OPTIONAL + a verify callback that aborts on mismatch: REQUIRED would demand a CA chain,
  // and the pin is the only trust anchor.
  mbedtls_ssl_conf_authmode(&i.conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) && \
    MBEDTLS_VERSION_NUMBER >= 0x03060100
  // 3.6.1+ drops TLS 1.3 tickets unless asked; read() then sees
  // MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET and keeps the session (3.6.0 always signals).
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
      &i.conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
  return c;
}

std::unique_ptr<TlsConfig> TlsConfig::server(const std::string &cert, const std::string &key,
                                             std::string &err) {
  global_init();
  auto c = std::unique_ptr<TlsConfig>(new TlsConfig);
  c->impl_.reset(new TlsConfigImpl);
  TlsConfigImpl &i = *c->impl_;
  i.is_server = true;
  int ret = mbedtls_x509_crt_parse_file(&i.cert, cert.c_str());
  if (ret) {
    err = cert + ": cannot load certificate: " + strerr(ret) + "; create one with \"braid keygen\"";
    return nullptr;
  }
  ret = parse_keyfile(&i.key, key.c_str());
  if (ret) {
    err = key + ": cannot load private key: " + strerr(ret) + "; create one with \"braid keygen\"";
    return nullptr;
  }
  ret = mbedtls_ssl_config_defaults(&i.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  if (!ret) ret = mbedtls_pk_check_pair(&i.cert.pk, &i.key, rng, nullptr);
#else
  if (!ret) ret = mbedtls_pk_check_pair(&i.cert.pk, &i.key);
#endif
  if (!ret) ret = mbedtls_ssl_conf_own_cert(&i.conf, &i.cert, &i.key);
  if (ret) {
    err = cert + ", " + key + ": certificate and key do not go together: " + strerr(ret);
    return nullptr;
  }
  conf_common(i.conf);
  mbedtls_ssl_conf_authmode(&i.conf, MBEDTLS_SSL_VERIFY_NONE);  // clients prove themselves in HELLO
  // Tickets live 12 h; the ticket key rotates with that lifetime inside mbedTLS.
  ret = mbedtls_ssl_ticket_setup(&i.ticket, rng, nullptr, MBEDTLS_CIPHER_AES_256_GCM, 12 * 3600);
  if (ret) {
    err = "tls: cannot set up session tickets: " + strerr(ret);
    return nullptr;
  }
  mbedtls_ssl_conf_session_tickets_cb(&i.conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                      &i.ticket);
  return c;
}

TlsConn::TlsConn(TlsConfig &cfg) : impl_(new TlsConnImpl) {
  impl_->owner = this;
  impl_->cfg = cfg.impl();
  mbedtls_ssl_setup(&impl_->ssl, &cfg.impl()->conf);
  mbedtls_ssl_set_bio(&impl_->ssl, this, bio_send, bio_recv, nullptr);
  if (!cfg.impl()->is_server) {
    mbedtls_ssl_set_verify(&impl_->ssl, verify_pin, impl_.get());
    if (cfg.impl()->have_saved) mbedtls_ssl_set_session(&impl_->ssl, &cfg.impl()->saved);
  }
}

TlsConn::~TlsConn() = default;

TlsResult TlsConn::fail(int ret, const char *what) {
  if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return TlsResult::WantIo;
  if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    err_ = "peer closed the TLS session";
    return TlsResult::Closed;
  }
  if (impl_->pin_mismatch) {
    err_ = "certificate pin mismatch: expected sha256:" + hex_encode(impl_->cfg->pin) + " got " +
           impl_->peer_pin;
    return TlsResult::Error;
  }
  err_ = std::string(what) + ": " + strerr(ret);
  return TlsResult::Error;
}

TlsResult TlsConn::handshake() {
  int ret = mbedtls_ssl_handshake(&impl_->ssl);
  if (ret) return fail(ret, "tls handshake failed");
  TlsConfigImpl *cfg = impl_->cfg;
  if (cfg->is_server) return TlsResult::Ok;
  if (impl_->pin_mismatch) {
    // With VERIFY_OPTIONAL, mbedTLS may treat the callback's CERT_VERIFY_FAILED as non-fatal
    // and finish the handshake; the pin decides all the same (read and write refuse too).
    mbedtls_ssl_send_alert_message(&impl_->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                   MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    return fail(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "tls handshake failed");
  }
  if (!impl_->pin_checked) {
    // A resumed session sends no certificate; the one kept from the full handshake that
    // created the session is checked again (resumption proves the server knows its secret).
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&impl_->ssl);
    if (!crt) {
      err_ = "tls handshake completed without a server certificate to check the pin against";
      return TlsResult::Error;
    }
    impl_->peer_pin = sha256_pin(crt->pk_raw.p, crt->pk_raw.len);
    impl_->pin_checked = true;
    if (impl_->peer_pin != "sha256:" + hex_encode(cfg->pin)) {
      impl_->pin_mismatch = true;
      err_ = "certificate pin mismatch: expected sha256:" + hex_encode(cfg->pin) + " got " + impl_->peer_pin;
      return TlsResult::Error;
    }
  } else {
    resumed_ = false;
  }
  save_session(cfg, &impl_->ssl);
  return TlsResult::Ok;
}

bool TlsConn::established() const {
  if (impl_->pin_mismatch) return false;
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  return mbedtls_ssl_is_handshake_over(&impl_->ssl);
#elif MBEDTLS_VERSION_NUMBER >= 0x03000000
  return impl_->ssl.MBEDTLS_PRIVATE(state) == MBEDTLS_SSL_HANDSHAKE_OVER;
#else
  return impl_->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER;
#endif
}

TlsResult TlsConn::read(uint8_t *buf, size_t cap, size_t *n) {
  if (impl_->pin_mismatch) return fail(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "tls read failed");
  for (int spins = 0;; ++spins) {
    size_t had = in.size();
    int ret = mbedtls_ssl_read(&impl_->ssl, buf, cap);
    // mbedTLS answers WANT_READ after a record that carried no data (a TLS 1.3 NewSessionTicket
    // or KeyUpdate) even when more records wait; WantIo would then stall them until the socket
    // brings more bytes. Read on while that call consumed input or a record is buffered.
    if (ret == MBEDTLS_ERR_SSL_WANT_READ && spins < 1000 &&
        ((in.size() < had && !in.empty()) || mbedtls_ssl_check_pending(&impl_->ssl)))
      continue;
    if (ret > 0) {
      *n = static_cast<size_t>(ret);
      return TlsResult::Ok;
    }
    if (ret == 0) {
      err_ = "peer closed the TLS session";
      return TlsResult::Closed;
    }
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    // TLS 1.3 (3.6): a NewSessionTicket was processed; keep it for the next link, read on.
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
      if (!impl_->cfg->is_server && !impl_->pin_mismatch) save_session(impl_->cfg, &impl_->ssl);
      continue;
    }
#endif
    return fail(ret, "tls read failed");
  }
}

TlsResult TlsConn::write(const uint8_t *p, size_t n) {
  if (impl_->pin_mismatch) return fail(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "tls write failed");
  while (n > 0) {
    int ret = mbedtls_ssl_write(&impl_->ssl, p, n);
    if (ret < 0) {
      // `out` never refuses bytes, so WANT_WRITE cannot happen; anything else is fatal.
      return fail(ret, "tls write failed");
    }
    p += ret;
    n -= static_cast<size_t>(ret);
  }
  return TlsResult::Ok;
}

void TlsConn::close_notify() { mbedtls_ssl_close_notify(&impl_->ssl); }
const std::string &TlsConn::peer_pin() const { return impl_->peer_pin; }
bool TlsConn::pin_mismatch() const { return impl_->pin_mismatch; }
// TLS 1.3 suites name only the AEAD ("TLS1-3-AES-128-GCM-SHA256"); the key exchange is ECDHE
// and the signature ECDSA there too, so they read "TLS1.3-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
// as the OpenSSL backend names them.
std::string TlsConn::cipher() const {
  const char *name = mbedtls_ssl_get_ciphersuite(&impl_->ssl);
  if (!name) return "none";
  std::string s = name;
  if (s.compare(0, 7, "TLS1-3-") == 0) s = "TLS1.3-ECDHE-ECDSA-WITH-" + s.substr(7);
  return s;
}

std::string hmac_sha256(const std::string &key, const uint8_t *p, size_t n) {
  unsigned char out[32];
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                  reinterpret_cast<const unsigned char *>(key.data()), key.size(), p, n, out);
  return std::string(reinterpret_cast<char *>(out), sizeof out);
}

std::string tls_library_version() {
  char v[32];
  mbedtls_version_get_string(v);
  return std::string("mbedTLS ") + v;
}
}  // namespace braid
