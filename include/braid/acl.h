// SPDX-License-Identifier: MIT
// Owns the server's target ACL: deny rules, then allow rules, then the default deny list
// (loopback, private, link-local, multicast, the server's own listening addresses).
// Checked on resolved addresses, so names cannot bypass it.
#pragma once
#include <sys/socket.h>

#include <string>
#include <vector>

#include "braid/config.h"

namespace braid {

class Acl {
 public:
  // The default deny list always applies; allow and deny rules come first.
  Acl() : Acl({}, {}) {}
  Acl(std::vector<Cidr> allow, std::vector<Cidr> deny);
  // Adds a listening address of the server itself (denied unless an allow rule matches).
  void add_own(const sockaddr *sa);
  // True if the target may be dialled; `why` names the rule that decided.
  bool permits(const sockaddr *sa, std::string &why) const;

 private:
  std::vector<Cidr> allow_, deny_, defaults_, own_;
};

bool cidr_match(const Cidr &c, const sockaddr *sa);

}  // namespace braid
