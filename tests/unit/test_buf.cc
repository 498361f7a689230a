// SPDX-License-Identifier: MIT
// Unit tests for src/buf.cc: Buf append/consume/reserve/commit, growth and compaction checked
// against a std::string model, and Reader bounds.
#include "braid/buf.h"
#include "check.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

using namespace braid;

namespace {

std::string contents(const Buf &b) {
  return std::string(reinterpret_cast<const char *>(b.data()), b.size());
}

void test_basics() {
  Buf b;
  CHECK(b.empty());
  CHECK_EQ(b.size(), size_t(0));
  CHECK_EQ(b.capacity(), size_t(0));
  b.append("hello", 0);  // nothing, and no allocation
  CHECK(b.empty());
  CHECK_EQ(b.capacity(), size_t(0));
  b.append(std::string("hello "));
  b.append("world", 5);
  CHECK_EQ(contents(b), "hello world");
  CHECK(!b.empty());
  b.consume(6);
  CHECK_EQ(contents(b), "world");
  b.consume(0);
  CHECK_EQ(contents(b), "world");
  b.consume(5);
  CHECK(b.empty());
  CHECK_EQ(b.size(), size_t(0));
  CHECK(b.capacity() > 0);  // consume keeps memory
  b.append("x", 1);
  CHECK_EQ(contents(b), "x");
  b.clear();
  CHECK(b.empty());
  CHECK_EQ(b.capacity(), size_t(0));
  b.append("again", 5);
  CHECK_EQ(contents(b), "again");
}

void test_reserve_commit() {
  Buf b;
  b.append("ab", 2);
  uint8_t *w = b.reserve(10);
  CHECK(w != nullptr);
  CHECK(b.capacity() >= 12);
  CHECK_EQ(contents(b), "ab");  // reserve does not change the contents
  memcpy(w, "0123456789", 10);
  b.commit(4);  // only part of what was reserved
  CHECK_EQ(contents(b), "ab0123");
  w = b.reserve(0);
  CHECK(w == b.data() + b.size());
  b.commit(0);
  CHECK_EQ(contents(b), "ab0123");
  // A large reserve grows; the whole reserved range is writable (ASan checks it).
  w = b.reserve(100000);
  memset(w, 'z', 100000);
  b.commit(100000);
  CHECK_EQ(b.size(), size_t(100006));
  CHECK_EQ(contents(b).substr(0, 6), "ab0123");
  CHECK(contents(b).substr(6) == std::string(100000, 'z'));
}

void test_growth() {
  Buf b;
  std::string model;
  for (int i = 0; i < 20; ++i) {
    std::string chunk(1000 + i * 777, char('a' + i));
    b.append(chunk);
    model += chunk;
    CHECK(b.capacity() >= b.size());
    CHECK(b.capacity() <= std::max<size_t>(4096, 2 * b.size()));  // doubling, not worse
  }
  CHECK(contents(b) == model);
}

// Compaction: when the consumed head leaves room, reserve reuses it instead of growing.
void test_compaction() {
  Buf b;
  std::string big(4000, 'a');
  b.append(big);
  size_t cap = b.capacity();
  b.consume(3000);  // 1000 live bytes at [3000, 4000)
  std::string more(2500, 'b');
  b.append(more);  // needs more than the tail room; the head room fits it
  CHECK_EQ(b.capacity(), cap);
  CHECK(contents(b) == std::string(1000, 'a') + more);
}

// Random operations against a std::string model, bounded.
void test_random_model() {
  uint64_t x = 0x243f6a8885a308d3ull;
  auto rnd = [&x](uint64_t m) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return m ? x % m : 0;
  };
  Buf b;
  std::string model;
  size_t peak_want = 0;
  uint8_t fill = 0;
  for (int op = 0; op < 20000; ++op) {
    switch (rnd(6)) {
      case 0:
      case 1: {  // append
        size_t n = rnd(4) == 0 ? rnd(20000) : rnd(300);
        std::string s(n, '\0');
        for (char &c : s) c = char(fill++);
        peak_want = std::max(peak_want, model.size() + n);
        b.append(s);
        model += s;
        break;
      }
      case 2: {  // reserve, write some of it, commit part
        size_t n = rnd(5000);
        peak_want = std::max(peak_want, model.size() + n);
        uint8_t *w = b.reserve(n);
        size_t k = n ? rnd(n + 1) : 0;
        for (size_t i = 0; i < n; ++i) w[i] = uint8_t(fill + i);  // whole range writable
        b.commit(k);
        for (size_t i = 0; i < k; ++i) model.push_back(char(uint8_t(fill + i)));
        fill = uint8_t(fill + n);
        break;
      }
      case 3:
      case 4: {  // consume
        size_t n = rnd(model.size() + 1);
        b.consume(n);
        model.erase(0, n);
        break;
      }
      case 5:
        if (rnd(50) == 0) {
          b.clear();
          model.clear();
          peak_want = 0;
        }
        break;
    }
    if (b.size() != model.size() ||
        (!model.empty() && memcmp(b.data(), model.data(), model.size()) != 0)) {
      CHECK_EQ(b.size(), model.size());
      CHECK(!"contents differ from the model");
      return;
    }
    CHECK_EQ(b.empty(), model.empty());
    const size_t limit = std::max<size_t>(4096, 2 * peak_want);
    if (b.capacity() > limit) {
      CHECK_LE(b.capacity(), limit);
      return;
    }
  }
}

// --- Ring --------------------------------------------------------------------------------------

std::string ring_contents(const Ring &r) {
  struct iovec iov[2];
  int k = r.data_iov(iov);
  std::string s;
  for (int i = 0; i < k; ++i) s.append(static_cast<const char *>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

// Wraps without moving bytes: after the head passes the middle, appends land at the front.
void test_ring_wrap() {
  Ring r;
  std::string a(3000, 'a'), b(2000, 'b');
  r.append(a);
  CHECK_EQ(r.capacity(), size_t(4096));
  r.consume(2500);
  r.append(b);  // 500 + 2000 fit in 4096: no growth, the data wraps
  CHECK_EQ(r.capacity(), size_t(4096));
  struct iovec iov[2];
  CHECK_EQ(r.data_iov(iov), 2);
  CHECK_EQ(ring_contents(r), std::string(500, 'a') + b);
  size_t n = 0;
  uint8_t *p = r.at(0, &n);
  CHECK_EQ(n, size_t(4096 - 2500));
  CHECK_EQ(p[0], uint8_t('a'));
  CHECK_EQ(r.before(0), size_t(2500));
  p = r.at(600, &n);
  CHECK_EQ(r.before(600), size_t(3100));
  CHECK_EQ(p[0], uint8_t('b'));
  CHECK_EQ(n, size_t(4096 - 3100));  // up to the end of the allocation; the rest is at the front
  r.append(std::string(4000, 'c'));  // grows: the data is laid out from the front again
  CHECK_EQ(ring_contents(r), std::string(500, 'a') + b + std::string(4000, 'c'));
  CHECK_EQ(r.data_iov(iov), 1);
  r.consume(r.size());
  CHECK(r.empty());
  r.clear();
  CHECK_EQ(r.capacity(), size_t(0));
}

void test_ring_fit() {
  Ring r;
  std::string big;
  for (int i = 0; i < 1 << 20; i++) big.push_back(char('a' + i % 26));
  r.append(big);
  size_t cap = r.capacity();
  CHECK(cap >= size_t(1) << 20);
  r.consume(300000);
  r.fit();  // more than a quarter left: stays
  CHECK_EQ(r.capacity(), cap);
  r.consume(r.size() - 100000);
  r.append(std::string(5000, 'z'));  // wraps around the end of the allocation
  r.fit();
  CHECK(r.capacity() <= size_t(256 * 1024) && r.capacity() >= r.size());
  CHECK_EQ(ring_contents(r), big.substr(big.size() - 100000) + std::string(5000, 'z'));
  Ring small;
  small.append(std::string(1000, 'x'));
  small.fit();  // 64 KiB and below: never moved
  CHECK_EQ(small.capacity(), size_t(4096));
}

// Random appends, space_iov fills and consumes against a std::string model.
void test_ring_random_model() {
  uint64_t x = 0x13198a2e03707344ull;
  auto rnd = [&x](uint64_t m) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return m ? x % m : 0;
  };
  Ring r;
  std::string model;
  uint8_t fill = 0;
  for (int op = 0; op < 20000; ++op) {
    switch (rnd(5)) {
      case 0: {
        size_t n = rnd(4) == 0 ? rnd(20000) : rnd(300);
        std::string s(n, '\0');
        for (char &c : s) c = char(fill++);
        r.append(s);
        model += s;
        break;
      }
      case 1: {  // space_iov: fill some of the free runs in order
        size_t n = rnd(5000);
        struct iovec iov[2];
        int k = r.space_iov(n, iov);
        size_t room = 0;
        for (int i = 0; i < k; ++i) room += iov[i].iov_len;
        CHECK(room >= n);
        CHECK_EQ(room, r.room());
        size_t w = room ? rnd(room + 1) : 0, done = 0;
        for (int i = 0; i < k && done < w; ++i) {
          size_t m = std::min(w - done, iov[i].iov_len);
          for (size_t j = 0; j < m; ++j) static_cast<uint8_t *>(iov[i].iov_base)[j] = uint8_t(fill + done + j);
          done += m;
        }
        r.commit(w);
        for (size_t j = 0; j < w; ++j) model.push_back(char(uint8_t(fill + j)));
        fill = uint8_t(fill + w);
        break;
      }
      case 2:
      case 3: {
        size_t n = rnd(model.size() + 1);
        r.consume(n);
        model.erase(0, n);
        break;
      }
      case 4:
        if (!model.empty()) {  // at(): contiguous runs agree with the model
          size_t off = rnd(model.size()), n = 0;
          uint8_t *p = r.at(off, &n);
          CHECK(n >= 1 && n <= model.size() - off);
          CHECK(memcmp(p, model.data() + off, n) == 0);
        }
        if (rnd(50) == 0) {
          r.clear();
          model.clear();
        }
        break;
    }
    if (r.size() != model.size() || ring_contents(r) != model) {
      CHECK_EQ(r.size(), model.size());
      CHECK(!"ring contents differ from the model");
      return;
    }
  }
}

// --- Reader --------------------------------------------------------------------------------------

void test_reader_values() {
  const uint8_t d[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                       0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 'x',  'y',  'z'};
  Reader r(d, sizeof d);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t e;
  std::string s;
  CHECK(r.u8(a));
  CHECK_EQ(int(a), 1);
  CHECK(r.u16(b));
  CHECK_EQ(b, uint16_t(0x0203));
  CHECK(r.u32(c));
  CHECK_EQ(c, 0x04050607u);
  CHECK(r.u64(e));
  CHECK_EQ(e, 0x08090a0b0c0d0e0full);
  CHECK_EQ(r.pos(), size_t(15));
  CHECK_EQ(r.left(), size_t(4));
  CHECK(r.cur() == d + 15);
  CHECK(r.skip(1));
  CHECK(r.bytes(3, s));
  CHECK_EQ(s, "xyz");
  CHECK_EQ(r.left(), size_t(0));
  CHECK(r.bytes(0, s));  // zero-length reads succeed at the end
  CHECK_EQ(s, "");
  CHECK(r.skip(0));

  // High bits: no sign extension.
  const uint8_t ff[8] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8};
  Reader r2(ff, 8);
  CHECK(r2.u16(b));
  CHECK_EQ(b, uint16_t(0xfffe));
  Reader r3(ff, 8);
  CHECK(r3.u32(c));
  CHECK_EQ(c, 0xfffefdfcu);
  Reader r4(ff, 8);
  CHECK(r4.u64(e));
  CHECK_EQ(e, 0xfffefdfcfbfaf9f8ull);
}

// Every getter fails when fewer bytes are left than it needs, leaves the position and the output
// alone, and a smaller getter still works afterwards.
void test_reader_bounds() {
  uint8_t d[16];
  for (int i = 0; i < 16; ++i) d[i] = uint8_t(0xa0 + i);
  for (size_t len = 0; len <= 16; ++len) {
    for (size_t start = 0; start <= len; ++start) {
      size_t left = len - start;
      Reader r(d, len);
      CHECK(r.skip(start));
      uint8_t a = 0x11;
      uint16_t b = 0x2222;
      uint32_t c = 0x33333333;
      uint64_t e = 0x4444444444444444ull;
      std::string s = "keep";
      if (left < 1) {
        CHECK(!r.u8(a));
        CHECK_EQ(int(a), 0x11);
      }
      if (left < 2) {
        CHECK(!r.u16(b));
        CHECK_EQ(b, uint16_t(0x2222));
      }
      if (left < 4) {
        CHECK(!r.u32(c));
        CHECK_EQ(c, 0x33333333u);
      }
      if (left < 8) {
        CHECK(!r.u64(e));
        CHECK_EQ(e, 0x4444444444444444ull);
      }
      CHECK(!r.bytes(left + 1, s));
      CHECK_EQ(s, "keep");
      CHECK(!r.skip(left + 1));
      CHECK(!r.skip(SIZE_MAX));
      CHECK(!r.bytes(SIZE_MAX, s));
      CHECK_EQ(r.pos(), start);
      CHECK_EQ(r.left(), left);
      // Exactly what is left still reads.
      CHECK(r.bytes(left, s));
      CHECK_EQ(s.size(), left);
      CHECK_EQ(r.left(), size_t(0));
    }
  }
  Reader empty(nullptr, 0);
  uint8_t a;
  CHECK(!empty.u8(a));
  CHECK_EQ(empty.left(), size_t(0));
}

const CheckCase CASES[] = {
    {"basics", test_basics},
    {"reserve_commit", test_reserve_commit},
    {"growth", test_growth},
    {"compaction", test_compaction},
    {"random_model", test_random_model},
    {"ring_wrap", test_ring_wrap},
    {"ring_random_model", test_ring_random_model},
    {"ring_fit", test_ring_fit},
    {"reader_values", test_reader_values},
    {"reader_bounds", test_reader_bounds},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
