// SPDX-License-Identifier: MIT
// Owns peer forwards on the server: an OPEN that names another client (FLAG_VIA) is checked
// against that client's expose= list in the clients file and relayed to a stream the server
// opens in that client's session. The two streams meet at a socketpair, so each keeps its own
// credit, resend and delayed close; the far side's OPEN answer (or reset code) becomes the
// answer to the near side.
#pragma once
#include <cstdint>
#include <string>

#include "braid/addr.h"
#include "braid/config.h"

namespace braid {

class Session;
class Stream;

// What the server's forward modules look up: sessions by id and by client name, and clients.
class SessionDirectory {
 public:
  virtual ~SessionDirectory() = default;
  virtual Session *session_by_id(uint64_t id) = 0;
  // The session to reach client `name` in: the newest with a link up, else the newest alive.
  virtual Session *session_of(const std::string &name) = 0;
  virtual const ClientEntry *find_client(const std::string &name) const = 0;
};

class PeerRelay {
 public:
  explicit PeerRelay(SessionDirectory &dir) : dir_(dir) {}
  // Stream st of session `from` asks for its target as seen from client `peer`. Returns 0 when
  // the relay took the stream over, else the ResetCode refusing it (logged with the reason).
  uint32_t open(Session &from, Stream &st, const std::string &peer);

 private:
  SessionDirectory &dir_;
};

// "host" of a target for rule matching: the name, or the address without brackets.
std::string target_host(const Target &t);

}  // namespace braid
