// SPDX-License-Identifier: MIT
// ssh -L style forwards: a fixed target per listener.
#include <unistd.h>

#include "braid/frame.h"
#include "braid/listen.h"
#include "braid/log.h"

namespace braid {

OpenCallback log_refusal(const std::string &label, const std::string &target) {
  return [label, target](uint32_t code) {
    if (code) LOG_INFO("%s -> %s: %s", label.c_str(), target.c_str(), reset_code_str(code));
  };
}

ForwardListener::ForwardListener(Loop &loop, StreamOpener &opener, const Forward &f)
    : Listener(loop, f.peer.empty() ? "forward" : "peer-forward"), opener_(opener), peer_(f.peer) {
  target_from_string(f.host, f.port, target_);
}

void ForwardListener::on_accept(int fd, const std::string &peer) {
  std::string label = kind_ + " " + bound() + " " + peer;
  // The application speaks first or waits for the target; either way nothing is owed to it
  // before the tunnel carries its bytes, so the stream opens early (0-RTT).
  std::string what = peer_.empty() ? target_.str() : target_.str() + " via \"" + peer_ + "\"";
  opener_.open(fd, target_, label, false, log_refusal(label, what), peer_);
}

}  // namespace braid
