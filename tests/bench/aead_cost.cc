// SPDX-License-Identifier: MIT
// Benchmark helper (not a test): what the AEADs of the linked mbedTLS cost on their own, as a
// floor for braid's CPU per GiB. Seals and opens N MiB in 16 KiB records (one TLS record's
// plaintext) with AES-128-GCM and ChaCha20-Poly1305, and prints the CPU seconds per GiB of
// seal + open, which is what the two ends of a tunnel spend on each byte between them.
// Output: one line per AEAD, "aead NAME cpu_s_per_gib X" (parsed by peers_bench.py).
#include <mbedtls/chachapoly.h>
#include <mbedtls/gcm.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

constexpr size_t RECORD = 16384;

double gcm(size_t records) {
  mbedtls_gcm_context ctx;
  mbedtls_gcm_init(&ctx);
  unsigned char key[16] = {1, 2, 3}, iv[12] = {0}, tag[16], aad[13] = {0};
  mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 128);
  std::vector<unsigned char> in(RECORD, 0x5a), out(RECORD), back(RECORD);
  double t0 = cpu_now();
  for (size_t i = 0; i < records; i++) {
    std::memcpy(iv + 4, &i, sizeof i);
    mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, RECORD, iv, sizeof iv, aad, sizeof aad,
                              in.data(), out.data(), sizeof tag, tag);
    if (mbedtls_gcm_auth_decrypt(&ctx, RECORD, iv, sizeof iv, aad, sizeof aad, tag, sizeof tag,
                                 out.data(), back.data()) != 0)
      std::abort();
  }
  double t = cpu_now() - t0;
  mbedtls_gcm_free(&ctx);
  return t;
}

double chachapoly(size_t records) {
  mbedtls_chachapoly_context ctx;
  mbedtls_chachapoly_init(&ctx);
  unsigned char key[32] = {1, 2, 3}, nonce[12] = {0}, tag[16], aad[13] = {0};
  mbedtls_chachapoly_setkey(&ctx, key);
  std::vector<unsigned char> in(RECORD, 0x5a), out(RECORD), back(RECORD);
  double t0 = cpu_now();
  for (size_t i = 0; i < records; i++) {
    std::memcpy(nonce + 4, &i, sizeof i);
    mbedtls_chachapoly_encrypt_and_tag(&ctx, RECORD, nonce, aad, sizeof aad, in.data(), out.data(), tag);
    if (mbedtls_chachapoly_auth_decrypt(&ctx, RECORD, nonce, aad, sizeof aad, tag, out.data(),
                                        back.data()) != 0)
      std::abort();
  }
  double t = cpu_now() - t0;
  mbedtls_chachapoly_free(&ctx);
  return t;
}

}  // namespace

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? size_t(std::strtoul(argv[1], nullptr, 10)) : 256;
  if (mib == 0 || mib > 65536) {
    std::fprintf(stderr, "usage: aead_cost [MiB, 1-65536]\n");
    return 2;
  }
  size_t records = mib * (1024 * 1024 / RECORD);
  double gib = double(mib) / 1024;
  std::printf("aead aes-128-gcm cpu_s_per_gib %.3f\n", gcm(records) / gib);
  std::printf("aead chacha20-poly1305 cpu_s_per_gib %.3f\n", chachapoly(records) / gib);
  return 0;
}
