// SPDX-License-Identifier: MIT
// Owns the probe fallback of the server: a link that did not authenticate is relayed, TLS
// terminated and with every byte it already sent, to a real web server (`fallback`), so a
// prober sees that server's answers rather than a closed connection.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "braid/acl.h"
#include "braid/buf.h"
#include "braid/dial.h"
#include "braid/link.h"

namespace braid {

class FallbackRelay : public LinkOwner {
 public:
  // Takes the link (already past TLS); done() is called once both sides are closed.
  FallbackRelay(Loop &loop, std::unique_ptr<Link> link, const Endpoint &to, std::function<void()> done);
  ~FallbackRelay() override;

  void on_link_up(Link &) override {}
  void on_link_frame(Link &, const Frame &) override {}
  void on_link_writable(Link &) override;
  void on_link_down(Link &, const std::string &why) override;

 private:
  Loop &loop_;
  std::unique_ptr<Link> link_;
  Acl any_;  // the fallback is the operator's own choice: no target ACL applies
  std::unique_ptr<DialJob> dial_;
  std::function<void()> done_;
  int fd_ = -1;
  IoEvent rev_, wev_;
  Buf to_fb_;  // decrypted bytes from the prober, waiting for the fallback
  bool finished_ = false;
  void on_raw(const uint8_t *p, size_t n);
  void flush_fb();
  void on_fb_readable();
  void finish(const std::string &why);
};

}  // namespace braid
