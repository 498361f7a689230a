// SPDX-License-Identifier: MIT
// Peer forwards on the server: expose= check, then two streams spliced by a socketpair.
#include "braid/relay.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/frame.h"
#include "braid/log.h"
#include "braid/mux.h"

namespace braid {

std::string target_host(const Target &t) {
  if (t.atyp == Atyp::Domain) return t.domain;
  char b[INET6_ADDRSTRLEN] = "";
  inet_ntop(t.atyp == Atyp::Ipv4 ? AF_INET : AF_INET6, t.ip, b, sizeof b);
  return b;
}

uint32_t PeerRelay::open(Session &from, Stream &st, const std::string &peer) {
  const std::string &me = from.client();
  std::string what = st.target().str();
  const ClientEntry *to = dir_.find_client(peer);
  if (!to) {
    LOG_INFO("server: client \"%s\": peer-forward to %s via \"%s\" refused: no client of that "
             "name in the clients file", me.c_str(), what.c_str(), peer.c_str());
    return uint32_t(ResetCode::NotAllowed);
  }
  if (!expose_permitted(*to, target_host(st.target()), st.target().port)) {
    LOG_INFO("server: client \"%s\": peer-forward to %s via \"%s\" refused: \"%s\" does not "
             "expose it; add expose=%s to its line in the clients file", me.c_str(), what.c_str(),
             peer.c_str(), peer.c_str(), what.c_str());
    return uint32_t(ResetCode::NotAllowed);
  }
  Session *b = dir_.session_of(peer);
  if (!b) {
    LOG_INFO("server: client \"%s\": peer-forward to %s via \"%s\" failed: \"%s\" is not connected",
             me.c_str(), what.c_str(), peer.c_str(), peer.c_str());
    return uint32_t(ResetCode::HostUnreachable);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    LOG_ERROR("server: peer-forward %s -> %s: socketpair: %s", me.c_str(), peer.c_str(), strerror(errno));
    return uint32_t(ResetCode::GeneralFailure);
  }
  SessionDirectory *dir = &dir_;
  uint64_t sid = from.id();
  uint32_t stid = st.id();
  int near = sv[0];
  std::string label = "peer-forward from " + me;
  // The far stream's OPEN answer completes the near one; whichever side is gone by then, the
  // socketpair end it would have taken is closed and the other side sees the end of stream.
  auto answered = [dir, sid, stid, near, peer](uint32_t code) {
    Session *a = dir->session_by_id(sid);
    Stream *sa = a && a->alive() ? a->stream(stid) : nullptr;
    if (!sa || sa->state() != StreamState::Opening) {
      close(near);
      return;
    }
    if (code == 0) {
      sa->complete_open(near, 0, "");
      return;
    }
    close(near);
    sa->complete_open(-1, code, "peer \"" + peer + "\": " + reset_code_str(code));
  };
  if (!b->open_stream(sv[1], st.target(), label, false, answered, me)) {
    close(sv[0]);
    close(sv[1]);
    LOG_INFO("server: peer-forward %s -> %s: session of \"%s\" has too many streams", me.c_str(),
             what.c_str(), peer.c_str());
    return uint32_t(ResetCode::SessionLimit);
  }
  LOG_DEBUG("server: peer-forward \"%s\" -> \"%s\" %s", me.c_str(), peer.c_str(), what.c_str());
  return 0;
}

}  // namespace braid
