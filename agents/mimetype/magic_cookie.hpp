// MagicCookie: one libmagic handle (magic_open + magic_load of the system database) that
// answers MIME types, e.g. "text/x-c" or "application/gzip". Owns the handle (RAII); not
// thread-safe, like libmagic itself.
#pragma once

#include <memory>
#include <string>

struct magic_set;

namespace mimetype {

class MagicCookie {
 public:
  MagicCookie();  // throws std::runtime_error with libmagic's message
  // The MIME type of the file at `path`; throws std::runtime_error naming the file.
  std::string type_of(const std::string& path);
  // The MIME type of a buffer (for tests).
  std::string type_of_buffer(const std::string& bytes);

 private:
  struct Close {
    void operator()(magic_set* m) const;
  };
  std::unique_ptr<magic_set, Close> cookie_;
};

}  // namespace mimetype
