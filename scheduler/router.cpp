// Routing values to hosts by [repository] ranges; SHA-1 from GLib for values that are not hex.
#include "router.hpp"

#include <glib.h>

#include <algorithm>

namespace sched {

namespace {

std::optional<unsigned> hex_digit(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
  return std::nullopt;
}

unsigned sha1_first_byte(std::string_view value) {
  GChecksum* sum = g_checksum_new(G_CHECKSUM_SHA1);
  g_checksum_update(sum, reinterpret_cast<const guchar*>(value.data()),
                    static_cast<gssize>(value.size()));
  guint8 digest[20];
  gsize len = sizeof digest;
  g_checksum_get_digest(sum, digest, &len);
  g_checksum_free(sum);
  return digest[0];
}

}  // namespace

Router::Router(std::vector<RepoRange> ranges) : ranges_(std::move(ranges)) {}

unsigned Router::key_byte(std::string_view value) {
  if (value.size() >= 2) {
    auto hi = hex_digit(value[0]), lo = hex_digit(value[1]);
    if (hi && lo) return *hi * 16 + *lo;
  }
  return sha1_first_byte(value);
}

const std::string& Router::holder(const std::optional<std::string_view>& value) const {
  if (!value || ranges_.empty()) return none_;
  unsigned byte = key_byte(*value);
  for (const auto& r : ranges_)
    if (byte >= r.lo && byte <= r.hi) return r.host;
  return none_;
}

std::vector<std::string> Router::hosts() const {
  std::vector<std::string> out;
  for (const auto& r : ranges_)
    if (std::find(out.begin(), out.end(), r.host) == out.end()) out.push_back(r.host);
  return out;
}

}  // namespace sched
