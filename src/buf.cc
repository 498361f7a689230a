// SPDX-License-Identifier: MIT
// Byte queue and bounds-checked reader.
#include "braid/buf.h"

#include "braid/limits.h"

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <new>

namespace braid {

Buf::~Buf() { free(mem_); }

uint8_t *Buf::reserve(size_t n) {
  if (cap_ - tail_ >= n) return mem_ + tail_;
  size_t used = size();
  if (head_ > 0 && cap_ - used >= n && head_ >= used) {
    // Enough room once the consumed head is reclaimed; the move is cheap because the live part
    // is no larger than what was already consumed.
    memmove(mem_, mem_ + head_, used);
    head_ = 0;
    tail_ = used;
    return mem_ + tail_;
  }
  size_t want = used + n;
  // A first allocation as small as what it holds: most buffers of a proxy carry a request or a
  // reply of a few hundred bytes and are released when drained; bulk ones double quickly.
  size_t cap = cap_ ? cap_ : BUF_MIN_ALLOC;
  // Doubling up to 64 KiB, then growth in 64 KiB steps: a large buffer's untouched tail is not
  // free once data has cycled through it, and hundreds of streams each hold one.
  while (cap < want && cap < 65536) cap *= 2;
  if (cap < want) cap = (want + 65535) / 65536 * 65536;
  uint8_t *m = static_cast<uint8_t *>(malloc(cap));
  if (!m) throw std::bad_alloc();
  if (used) memcpy(m, mem_ + head_, used);
  free(mem_);
  mem_ = m;
  cap_ = cap;
  head_ = 0;
  tail_ = used;
  return mem_ + tail_;
}

void Buf::append(const void *p, size_t n) {
  if (!n) return;
  memcpy(reserve(n), p, n);
  tail_ += n;
}

void Buf::consume(size_t n) {
  head_ += n;
  if (head_ >= tail_) head_ = tail_ = 0;
}

void Buf::clear() {
  free(mem_);
  mem_ = nullptr;
  cap_ = head_ = tail_ = 0;
}

namespace {
// Doubling up to 64 KiB, then growth in 64 KiB steps (as Buf::reserve).
size_t grown_capacity(size_t cap, size_t want) {
  cap = cap ? cap : 4096;
  while (cap < want && cap < 65536) cap *= 2;
  if (cap < want) cap = (want + 65535) / 65536 * 65536;
  return cap;
}
}  // namespace

Ring::~Ring() { free(mem_); }

void Ring::fit() {
  if (cap_ <= 65536 || len_ >= cap_ / 4) return;
  size_t cap = grown_capacity(0, std::max<size_t>(len_ * 2, 65536));
  uint8_t *m = static_cast<uint8_t *>(malloc(cap));
  if (!m) return;  // keeping the larger buffer is fine
  size_t first = len_ ? std::min(len_, cap_ - head_) : 0;
  if (first) memcpy(m, mem_ + head_, first);
  if (len_ > first) memcpy(m + first, mem_, len_ - first);
  free(mem_);
  mem_ = m;
  cap_ = cap;
  head_ = 0;
}

void Ring::grow(size_t n) {
  if (cap_ - len_ >= n) return;
  // Past 64 KiB by half the capacity at least: a bulk stream's send ring grows with its window
  // (to 4 MiB), and 64 KiB steps would copy its contents some 60 times on the way.
  size_t cap = grown_capacity(cap_, std::max(len_ + n, cap_ >= 65536 ? cap_ + cap_ / 2 : 0));
  uint8_t *m = static_cast<uint8_t *>(malloc(cap));
  if (!m) throw std::bad_alloc();
  size_t first = len_ ? std::min(len_, cap_ - head_) : 0;
  if (first) memcpy(m, mem_ + head_, first);
  if (len_ > first) memcpy(m + first, mem_, len_ - first);
  free(mem_);
  mem_ = m;
  cap_ = cap;
  head_ = 0;
}

void Ring::append(const void *p, size_t n) {
  if (!n) return;
  struct iovec iov[2];
  int k = space_iov(n, iov);
  const uint8_t *src = static_cast<const uint8_t *>(p);
  size_t a = std::min(n, iov[0].iov_len);
  memcpy(iov[0].iov_base, src, a);
  if (a < n && k > 1) memcpy(iov[1].iov_base, src + a, n - a);
  len_ += n;
}

uint8_t *Ring::at(size_t off, size_t *n) {
  size_t i = phys(off);
  size_t left = len_ - off;
  *n = std::min(left, cap_ - i);
  return mem_ + i;
}

int Ring::data_iov(struct iovec iov[2]) const {
  if (!len_) return 0;
  size_t first = std::min(len_, cap_ - head_);
  iov[0].iov_base = mem_ + head_;
  iov[0].iov_len = first;
  if (first == len_) return 1;
  iov[1].iov_base = mem_;
  iov[1].iov_len = len_ - first;
  return 2;
}

int Ring::space_iov(size_t n, struct iovec iov[2]) {
  grow(n);
  size_t room = cap_ - len_;
  if (!room) return 0;
  size_t tail = phys(len_);
  if (len_ == cap_) tail = head_;
  size_t first = std::min(room, cap_ - tail);
  iov[0].iov_base = mem_ + tail;
  iov[0].iov_len = first;
  if (first == room) return 1;
  iov[1].iov_base = mem_;
  iov[1].iov_len = room - first;
  return 2;
}

void Ring::consume(size_t n) {
  len_ -= n;
  head_ = len_ ? phys(n) : 0;
}

void Ring::clear() {
  free(mem_);
  mem_ = nullptr;
  cap_ = head_ = len_ = 0;
}

bool Reader::u8(uint8_t &v) {
  if (left() < 1) return false;
  v = p_[pos_++];
  return true;
}
bool Reader::u16(uint16_t &v) {
  if (left() < 2) return false;
  v = uint16_t(p_[pos_] << 8 | p_[pos_ + 1]);
  pos_ += 2;
  return true;
}
bool Reader::u32(uint32_t &v) {
  if (left() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; i++) v = v << 8 | p_[pos_ + i];
  pos_ += 4;
  return true;
}
bool Reader::u64(uint64_t &v) {
  if (left() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p_[pos_ + i];
  pos_ += 8;
  return true;
}
bool Reader::bytes(size_t n, std::string &out) {
  if (left() < n) return false;
  out.assign(reinterpret_cast<const char *>(p_ + pos_), n);
  pos_ += n;
  return true;
}
bool Reader::skip(size_t n) {
  if (left() < n) return false;
  pos_ += n;
  return true;
}

} // namespace braid
