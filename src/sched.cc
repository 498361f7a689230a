// SPDX-License-Identifier: MIT
// Link order and stream-to-link eligibility.
#include "braid/sched.h"

#include <algorithm>

#include "braid/link.h"
#include "braid/stream.h"

namespace braid {

std::vector<Link *> sched_order(const std::vector<std::unique_ptr<Link>> &links) {
  std::vector<std::pair<double, Link *>> v;
  for (auto &l : links)
    if (l->writable()) v.emplace_back(l->expected_delivery(), l.get());
  std::sort(v.begin(), v.end(), [](auto &a, auto &b) { return a.first < b.first; });
  std::vector<Link *> out;
  for (auto &p : v) out.push_back(p.second);
  return out;
}

bool sched_may_use(const Stream &st, const Link &l, const Link *home) {
  if (!home || home->dead() || home->suspect()) return !st.pinned() || !home;
  if (home == &l) return true;
  if (st.pinned()) return false;  // its OPEN is on home; nothing may overtake it
  // Stripe only a bulk stream, only while its own link is the bottleneck (a byte would arrive
  // sooner on l than on home), and only onto a link whose RTT will not make the receiver wait
  // too long for the bytes in between.
  if (st.bytes_sent() < SCHED_BULK_BYTES) return false;
  if (home->writable() && home->expected_delivery() <= l.expected_delivery()) return false;
  // Path delays, not queueing: a link's SRTT stays inflated by a past bulk transfer until it
  // is probed again, and must not keep it out of striping.
  return l.min_rtt_ms() <= SCHED_RTT_FACTOR * home->min_rtt_ms() + SCHED_RTT_SLACK_MS;
}

}  // namespace braid
