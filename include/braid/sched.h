// SPDX-License-Identifier: MIT
// Owns scheduling decisions: which link a session fills next, and whether a stream's next frame
// may ride a given link. Control frames go first on the best link. A stream stays on the link
// with the lowest expected delivery time (unacknowledged bytes / rate + SRTT / 2); a bulk
// stream whose link is the bottleneck (full, or a byte would arrive sooner elsewhere) stripes
// onto other links while their RTTs are comparable. Pure decisions over link and stream state; the session carries them out.
#pragma once
#include <memory>
#include <vector>

namespace braid {

class Link;
class Stream;

// A stream counts as bulk (and may stripe) once it has sent this much.
constexpr uint64_t SCHED_BULK_BYTES = 256 * 1024;
// RTTs are "comparable" when the slower link's SRTT is at most 2 x the faster's + 30 ms
// (research/protocol.md 0: beyond that the reorder buffer, not the path, limits the stream).
constexpr double SCHED_RTT_FACTOR = 2.0;
constexpr double SCHED_RTT_SLACK_MS = 30.0;

// Writable links, best first (lowest expected delivery time).
std::vector<Link *> sched_order(const std::vector<std::unique_ptr<Link>> &links);

// May st send its next frame on l now? `home` is the link the stream is on (nullptr if none or
// gone). Assigns nothing; the caller moves the stream when this returns true and home is null.
bool sched_may_use(const Stream &st, const Link &l, const Link *home);

}  // namespace braid
