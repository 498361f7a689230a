// SPDX-License-Identifier: MIT
// Private to the config parser (config.cc, config_forward.cc): the text helpers both use, so
// every message quotes values and names rules the same way.
#pragma once
#include <cstdint>
#include <string>

namespace braid {
namespace cfgtext {

bool no(std::string &err, std::string msg);  // sets err, returns false
std::string trim(const std::string &s);
std::string strip_comment(const std::string &s);
std::string quote(const std::string &s);  // for messages: escaped, cut after 80 bytes
bool parse_uint(const std::string &s, uint64_t lo, uint64_t hi, uint64_t &out);
bool is_name_char(char ch);
bool valid_name(const std::string &s);  // client names
std::string name_rule();

}  // namespace cfgtext
}  // namespace braid
