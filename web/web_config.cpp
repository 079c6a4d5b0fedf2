// [web] of scheduler.conf; see web_config.hpp.
#include "web_config.hpp"

#include <gio/gio.h>

#include <filesystem>
#include <limits>

#include "key_file.hpp"

namespace web {

WebConfig load_web_config(const std::string& conf_dir) {
  WebConfig c;
  const std::string path = conf_dir + "/scheduler.conf";
  sched::keyfile::Reader r(path);
  const std::string g = "web";
  if (!r.has_group(g)) return c;
  if (auto v = r.string(g, "listen")) {
    c.listen = std::string(sched::keyfile::trim(*v));
    if (c.listen != "localhost" && !g_hostname_is_ip_address(c.listen.c_str()))
      r.fail(g, "listen", "'" + c.listen + "' is not an IP address", "an IP address or localhost");
  }
  sched::keyfile::read_int_key(r, g, "port", c.port, 1, 65535);
  if (auto v = r.string(g, "password")) c.password = *v;
  if (auto v = r.list(g, "upload_roots")) {
    for (const auto& root : *v) {
      auto t = std::string(sched::keyfile::trim(root));
      if (t.empty()) continue;
      if (t.front() != '/')
        r.fail(g, "upload_roots", "'" + t + "' is not absolute", "absolute paths");
      c.upload_roots.push_back(t);
    }
  }
  if (auto v = r.string(g, "upload_dir"))
    c.upload_dir = sched::keyfile::resolve(conf_dir, std::string(sched::keyfile::trim(*v)));
  else if (!c.upload_roots.empty())
    c.upload_dir = c.upload_roots.front() + "/jobline-web";
  int mib = static_cast<int>(c.upload_limit >> 20);
  sched::keyfile::read_int_key(r, g, "upload_limit", mib, 1, 1 << 20);
  c.upload_limit = static_cast<std::size_t>(mib) << 20;
  return c;
}

bool is_loopback(const std::string& address) {
  if (address == "localhost") return true;
  GInetAddress* a = g_inet_address_new_from_string(address.c_str());
  if (a == nullptr) return false;
  bool loop = g_inet_address_get_is_loopback(a) != 0;
  g_object_unref(a);
  return loop;
}

}  // namespace web
