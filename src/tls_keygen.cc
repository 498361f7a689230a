// SPDX-License-Identifier: MIT
// `braid keygen` and certificate pins: ECDSA P-256 key, self-signed certificate, SPKI SHA-256.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "braid/config.h"
#include "braid/loop.h"
#include "braid/tls.h"

namespace braid {
namespace {

int rng(void *, unsigned char *out, size_t n) {
  rand_bytes(out, n);
  return 0;
}

// 3.x: key and certificate code may go through PSA (MBEDTLS_USE_PSA_CRYPTO), which must be
// initialised first; keygen and check-config run before any TlsConfig exists.
void psa_init() {
#if defined(MBEDTLS_PSA_CRYPTO_C)
  static const psa_status_t status = psa_crypto_init();
  (void)status;
#endif
}

std::string pin_of(mbedtls_pk_context *pk) {
  unsigned char der[512];
  int len = mbedtls_pk_write_pubkey_der(pk, der, sizeof der);
  if (len <= 0) return "";
  unsigned char h[32];
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  mbedtls_sha256(der + sizeof der - len, size_t(len), h, 0);
#else
  mbedtls_sha256_ret(der + sizeof der - len, size_t(len), h, 0);
#endif
  return "sha256:" + hex_encode(std::string(reinterpret_cast<char *>(h), 32));
}

bool write_file(const std::string &path, const unsigned char *p, size_t n, mode_t mode,
                std::string &err) {
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

bool make_cert(mbedtls_pk_context *pk, unsigned char *pem, size_t cap, std::string &err) {
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, pk);
  mbedtls_x509write_crt_set_issuer_key(&crt, pk);
  int ret = mbedtls_x509write_crt_set_subject_name(&crt, "CN=braid");
  if (!ret) ret = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=braid");
  if (!ret) ret = mbedtls_x509write_crt_set_validity(&crt, "20250101000000", "20491231235959");
  unsigned char serial[16];
  rand_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
  if (!ret) ret = mbedtls_x509write_crt_set_serial_raw(&crt, serial, sizeof serial);
#else
  mbedtls_mpi mpi;
  mbedtls_mpi_init(&mpi);
  if (!ret) ret = mbedtls_mpi_read_binary(&mpi, serial, sizeof serial);
  if (!ret) ret = mbedtls_x509write_crt_set_serial(&crt, &mpi);
  mbedtls_mpi_free(&mpi);
#endif
  if (!ret) ret = mbedtls_x509write_crt_pem(&crt, pem, cap, rng, nullptr);
  mbedtls_x509write_crt_free(&crt);
  if (ret) {
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof buf);
    err = std::string("cannot create certificate: ") + buf;
  }
  return ret == 0;
}

}  // namespace

bool tls_keygen(const std::string &prefix, std::string &pin, std::string &err) {
  psa_init();
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (!ret) ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), rng, nullptr);
  unsigned char key_pem[1024] = {0}, crt_pem[4096] = {0};
  if (!ret) ret = mbedtls_pk_write_key_pem(&pk, key_pem, sizeof key_pem);
  bool ok = ret == 0;
  if (!ok) err = "cannot generate an ECDSA P-256 key";
  if (ok) ok = make_cert(&pk, crt_pem, sizeof crt_pem, err);
  if (ok) ok = write_file(prefix + ".key", key_pem, strlen((char *)key_pem), 0600, err);
  if (ok) ok = write_file(prefix + ".crt", crt_pem, strlen((char *)crt_pem), 0644, err);
  if (ok) pin = pin_of(&pk);
  mbedtls_pk_free(&pk);
  return ok;
}

bool tls_cert_pin(const std::string &cert_path, std::string &pin, std::string &err) {
  psa_init();
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int ret = mbedtls_x509_crt_parse_file(&crt, cert_path.c_str());
  if (ret) {
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof buf);
    err = cert_path + ": cannot load certificate: " + buf;
  } else {
    pin = pin_of(&crt.pk);
  }
  mbedtls_x509_crt_free(&crt);
  return ret == 0;
}

}  // namespace braid
