// Store: hash while reading, temp file + rename into <root>/files/ab/cd/<sha1>.
#include "store.hpp"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace unpack {
namespace {

struct ChecksumFree {
  void operator()(GChecksum* c) const { g_checksum_free(c); }
};
using Checksum = std::unique_ptr<GChecksum, ChecksumFree>;

std::string sys_error(const std::string& what, const std::string& path) {
  return "repository: " + what + " '" + path + "': " + std::strerror(errno);
}

// A temp file under <root>/tmp, removed by the destructor unless it was renamed.
class TempFile {
 public:
  explicit TempFile(const std::string& root) {
    std::string dir = root + "/tmp";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    path_ = dir + "/unpack-XXXXXX";
    fd_ = ::mkostemp(path_.data(), O_CLOEXEC);
    if (fd_ < 0) throw StoreError(sys_error("cannot create a temp file in", dir));
    ::fchmod(fd_, 0644);  // scanners run as other users on other hosts, maybe
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw StoreError(sys_error("cannot write", path_));
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  // Closes the file and renames it to `final` (creating its directories).
  void commit(const std::string& final) {
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw StoreError(sys_error("cannot write", path_));
    }
    fd_ = -1;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(final).parent_path(), ec);
    if (::rename(path_.c_str(), final.c_str()) != 0)
      throw StoreError(sys_error("cannot rename a temp file to", final));
    path_.clear();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Store::Store(agent::Repository repo, std::size_t memory_limit)
    : repo_(std::move(repo)), memory_limit_(memory_limit) {}

Content Store::put(const Reader& read) {
  Checksum sha1(g_checksum_new(G_CHECKSUM_SHA1));
  Checksum md5(g_checksum_new(G_CHECKSUM_MD5));
  std::vector<char> head;  // the content while it fits in memory_limit_
  head.reserve(64 * 1024);
  std::unique_ptr<TempFile> temp;
  std::vector<char> buf(64 * 1024);
  std::uint64_t size = 0;
  for (;;) {
    std::size_t n = read(buf.data(), buf.size());
    if (n == 0) break;
    const auto* bytes = reinterpret_cast<const guchar*>(buf.data());
    g_checksum_update(sha1.get(), bytes, static_cast<gssize>(n));
    g_checksum_update(md5.get(), bytes, static_cast<gssize>(n));
    size += n;
    if (!temp && head.size() + n <= memory_limit_) {
      head.insert(head.end(), buf.data(), buf.data() + n);
      continue;
    }
    if (!temp) {  // too big for memory: spill to a temp file from now on
      temp = std::make_unique<TempFile>(repo_.root());
      temp->write(head.data(), head.size());
      head.clear();
      head.shrink_to_fit();
    }
    temp->write(buf.data(), n);
  }
  Content c{g_checksum_get_string(sha1.get()), g_checksum_get_string(md5.get()), size};
  const std::string final = repo_.path_of(c.sha1);
  if (exists(final)) {
    ++present_;
    return c;  // `temp`, if any, is removed by its destructor
  }
  if (!temp) {
    temp = std::make_unique<TempFile>(repo_.root());
    temp->write(head.data(), head.size());
  }
  temp->commit(final);
  ++written_;
  return c;
}

}  // namespace unpack
