// SPDX-License-Identifier: MIT
// Owns every TLS library call: configuration, certificate pinning, key generation, and a
// non-blocking TLS connection that never touches a socket itself. The link feeds received
// ciphertext into `in` and drains `out` to the socket, so reads are large and writes batched.
// mbedTLS version differences stay inside src/tls.cc.
#pragma once
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "braid/buf.h"

namespace braid {

// Which AEAD a build puts first: AES-GCM where the CPU accelerates AES, else ChaCha20-Poly1305.
// The environment variable BRAID_CIPHERS=aes-gcm or =chacha20 overrides that (benchmarks, or a
// CPU whose AES instructions are not detected). Returns 1 (AES-GCM first), 0 (ChaCha20 first)
// or -1 (not set, or another value).
inline int cipher_override() {
  const char *e = std::getenv("BRAID_CIPHERS");
  if (!e) return -1;
  if (std::strcmp(e, "aes-gcm") == 0) return 1;
  return std::strcmp(e, "chacha20") == 0 ? 0 : -1;
}

struct TlsConfigImpl;
struct TlsConnImpl;

class TlsConfig {
 public:
  // Client side: verifies that the server's public key hashes to pin (32 raw bytes).
  static std::unique_ptr<TlsConfig> client(const std::string &pin, std::string &err);
  // Server side: loads a PEM certificate and key; err names the file and the problem.
  static std::unique_ptr<TlsConfig> server(const std::string &cert, const std::string &key,
                                           std::string &err);
  ~TlsConfig();
  TlsConfigImpl *impl() const { return impl_.get(); }

 private:
  std::unique_ptr<TlsConfigImpl> impl_;
};

enum class TlsResult { Ok, WantIo, Closed, Error };

class TlsConn {
 public:
  explicit TlsConn(TlsConfig &cfg);
  ~TlsConn();
  TlsConn(const TlsConn &) = delete;
  TlsConn &operator=(const TlsConn &) = delete;

  Buf in;   // ciphertext received from the socket, consumed by the TLS library
  Ring out;  // ciphertext produced by the TLS library, to be written to the socket (writev)

  // Advances the handshake with what is in `in`. Ok when complete, WantIo for more input.
  TlsResult handshake();
  bool established() const;
  // Decrypts into buf (>= 16 KiB for one record per call). Ok with *n > 0, WantIo when `in`
  // holds no complete record, Closed on close_notify, Error otherwise (see error()).
  TlsResult read(uint8_t *buf, size_t cap, size_t *n);
  // Encrypts all of [p, p+n) (one record per 16 KiB) into `out`. Never blocks: `out` grows,
  // and the caller bounds how much it produces.
  TlsResult write(const uint8_t *p, size_t n);
  // Appends a close_notify alert to `out`.
  void close_notify();
  const std::string &error() const { return err_; }
  // Client: the pin the server presented ("sha256:<hex>") after a mismatch.
  const std::string &peer_pin() const;
  bool pin_mismatch() const;
  std::string cipher() const;
  // Client: the handshake resumed an earlier session (no certificate was sent).
  bool resumed() const { return resumed_; }

 private:
  bool resumed_ = true;
  std::unique_ptr<TlsConnImpl> impl_;
  std::string err_;
  TlsResult fail(int ret, const char *what);
};

// keygen: ECDSA P-256 key and self-signed certificate; returns the pin "sha256:<hex>".
bool tls_keygen(const std::string &prefix, std::string &pin, std::string &err);
// Pin of a certificate file ("sha256:<hex>"), for check-config and tests.
bool tls_cert_pin(const std::string &cert_path, std::string &pin, std::string &err);
// "mbedTLS 2.28.3"
std::string tls_library_version();
// HMAC-SHA256 (32 raw bytes) from the TLS library's crypto, for HELLO authentication.
std::string hmac_sha256(const std::string &key, const uint8_t *p, size_t n);

} // namespace braid
