// SPDX-License-Identifier: MIT
// Owns byte buffers: Buf, a contiguous byte queue that sockets read into and write from without
// intermediate copies (reserve/commit at the tail, consume at the head); Ring, a byte queue that
// wraps instead of moving its contents (readv into its free space, writev from its data) for
// queues that never drain completely; and Reader, a bounds-checked cursor for parsing received
// bytes. No pointer arithmetic on received data
// happens outside this module and the frame codec.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/uio.h>

namespace braid {

class Buf {
 public:
  Buf() = default;
  ~Buf();
  Buf(const Buf &) = delete;
  Buf &operator=(const Buf &) = delete;

  const uint8_t *data() const { return mem_ + head_; }
  uint8_t *data() { return mem_ + head_; }
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }

  void append(const void *p, size_t n);
  void append(const std::string &s) { append(s.data(), s.size()); }
  // Makes room for n bytes at the tail and returns where to write them; commit() what was written.
  uint8_t *reserve(size_t n);
  void commit(size_t n) { tail_ += n; }
  void consume(size_t n);  // drop n bytes from the head (n <= size())
  void clear();            // drop everything and release memory
  size_t capacity() const { return cap_; }

 private:
  uint8_t *mem_ = nullptr;
  size_t cap_ = 0, head_ = 0, tail_ = 0;
};

// A circular byte queue: bytes are never moved to make room (a Buf moves its live part to the
// front when the tail runs out), only when it grows. Data and free space are each at most two
// contiguous runs, for readv/writev.
class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring &) = delete;
  Ring &operator=(const Ring &) = delete;

  size_t size() const { return len_; }
  bool empty() const { return len_ == 0; }
  size_t capacity() const { return cap_; }
  size_t room() const { return cap_ - len_; }

  void append(const void *p, size_t n);
  void append(const std::string &s) { append(s.data(), s.size()); }
  // The contiguous run of data starting `off` bytes after the head (off < size()): its address,
  // and in *n how many bytes follow there before the ring wraps (or the data ends).
  uint8_t *at(size_t off, size_t *n);
  // Bytes of the allocation in front of at(off): where a caller may briefly write a header.
  size_t before(size_t off) const { return phys(off); }
  // The data as up to two runs; returns how many.
  int data_iov(struct iovec iov[2]) const;
  // Makes at least n bytes of free space (growing if needed) and describes all of it as up to
  // two runs; returns how many. Fill them in order, then commit() what was written.
  int space_iov(size_t n, struct iovec iov[2]);
  void commit(size_t n) { len_ += n; }
  void consume(size_t n);  // n <= size()
  void clear();            // drop everything and release memory
  // Past 64 KiB, a ring holding less than a quarter of its capacity moves into one of twice
  // its size: a stream's ring that grew with its window gives the memory back as it drains.
  void fit();

 private:
  uint8_t *mem_ = nullptr;
  size_t cap_ = 0, head_ = 0, len_ = 0;
  size_t phys(size_t off) const {
    size_t i = head_ + off;
    return i >= cap_ ? i - cap_ : i;
  }
  void grow(size_t n);
};

// Bounds-checked reader: every get fails (returns false) instead of reading past the end.
class Reader {
 public:
  Reader(const uint8_t *p, size_t n) : p_(p), n_(n) {}
  bool u8(uint8_t &v);
  bool u16(uint16_t &v);
  bool u32(uint32_t &v);
  bool u64(uint64_t &v);
  bool bytes(size_t n, std::string &out);
  bool skip(size_t n);
  size_t left() const { return n_ - pos_; }
  size_t pos() const { return pos_; }
  const uint8_t *cur() const { return p_ + pos_; }

 private:
  const uint8_t *p_;
  size_t n_, pos_ = 0;
};

} // namespace braid
