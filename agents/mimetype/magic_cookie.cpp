// MagicCookie (magic_cookie.hpp) over libmagic.
#include "magic_cookie.hpp"

#include <magic.h>

#include <stdexcept>

namespace mimetype {

void MagicCookie::Close::operator()(magic_set* m) const {
  magic_close(m);
}

MagicCookie::MagicCookie() : cookie_(magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR)) {
  if (!cookie_) throw std::runtime_error("libmagic: magic_open failed");
  if (magic_load(cookie_.get(), nullptr) != 0) {
    const char* e = magic_error(cookie_.get());
    throw std::runtime_error(std::string("libmagic: cannot load the magic database: ") +
                             (e ? e : "unknown error"));
  }
}

std::string MagicCookie::type_of(const std::string& path) {
  const char* t = magic_file(cookie_.get(), path.c_str());
  if (!t) {
    const char* e = magic_error(cookie_.get());
    throw std::runtime_error("libmagic: '" + path + "': " + (e ? e : "unknown error"));
  }
  return t;
}

std::string MagicCookie::type_of_buffer(const std::string& bytes) {
  const char* t = magic_buffer(cookie_.get(), bytes.data(), bytes.size());
  if (!t) {
    const char* e = magic_error(cookie_.get());
    throw std::runtime_error(std::string("libmagic: ") + (e ? e : "unknown error"));
  }
  return t;
}

}  // namespace mimetype
