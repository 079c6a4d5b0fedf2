// Unpacker: archives. A file is tried as an archive from its repository copy (seekable, so
// zip and 7z read their central directories); libarchive's formats except mtree (plain text
// can look like one) and raw, which is accepted only behind a compression filter (a single
// .gz/.bz2/.xz/.zst file). Entries are checked before anything is read (path rules, links,
// types), their data go through the Store, and archives among them are opened in turn.
#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "unpacker.hpp"
#include "unpacker_pending.hpp"

namespace unpack {
namespace {

// A problem of one archive: the archive is kept as a plain file (or refused at the top).
struct ContainerError {
  std::string what;
};

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using Reader = std::unique_ptr<archive, ArchiveFree>;

// The reader, opened (rc: archive_read_open_filename's result).
Reader open_reader(const std::string& path, int& rc) {
  Reader a(archive_read_new());
  // Compression filters built into libarchive (none that runs an external program).
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_compress(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_lzip(a.get());
  archive_read_support_filter_lzma(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_7zip(a.get());
  archive_read_support_format_ar(a.get());
  archive_read_support_format_cab(a.get());
  archive_read_support_format_cpio(a.get());
  archive_read_support_format_iso9660(a.get());
  archive_read_support_format_lha(a.get());
  archive_read_support_format_rar(a.get());
  archive_read_support_format_rar5(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_warc(a.get());
  archive_read_support_format_xar(a.get());
  archive_read_support_format_zip(a.get());
  archive_read_support_format_raw(a.get());
  rc = archive_read_open_filename(a.get(), path.c_str(), 64 * 1024);
  return a;
}

std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  std::string s = m ? m : "unknown error";
  for (char& ch : s)
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  return s;
}

// The name of the one file inside a compressed single file: foo.txt.gz → foo.txt.
std::string decompressed_name(const std::string& name) {
  static const std::pair<const char*, const char*> suffixes[] = {
      {".tgz", ".tar"},  {".tbz2", ".tar"}, {".tbz", ".tar"}, {".txz", ".tar"},
      {".tzst", ".tar"}, {".gz", ""},       {".bz2", ""},     {".xz", ""},
      {".zst", ""},      {".lzma", ""},     {".lz", ""},      {".Z", ""}};
  for (const auto& [from, to] : suffixes) {
    std::string f = from;
    if (name.size() > f.size() && name.compare(name.size() - f.size(), f.size(), f) == 0)
      return name.substr(0, name.size() - f.size()) + to;
  }
  return name;
}

std::string ratio_text(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", ratio);
  return buf;
}

const char* entry_kind(unsigned type) {
  switch (type) {
    case AE_IFCHR:
      return "character device";
    case AE_IFBLK:
      return "block device";
    case AE_IFIFO:
      return "fifo";
    case AE_IFSOCK:
      return "socket";
    default:
      return "entry of unknown type";
  }
}

}  // namespace

bool Unpacker::nest(int node, unsigned depth) {
  const int content = tree_.nodes()[static_cast<std::size_t>(node)].content;
  if (content < 0) return false;
  const Content c = tree_.contents()[static_cast<std::size_t>(content)];
  if (c.size == 0) return false;
  int r = ARCHIVE_OK;
  Reader a = open_reader(store_.repository().path_of(c.sha1), r);
  archive_entry* first = nullptr;
  // Opening fails only when a compression filter recognised the file and could not start
  // reading it (a truncated or garbled .gz...): a corrupt archive. Formats bid at the first
  // header, and raw takes anything.
  if (r == ARCHIVE_OK) r = archive_read_next_header(a.get(), &first);
  const bool compressed = archive_filter_count(a.get()) > 1;
  const bool raw = archive_format(a.get()) == ARCHIVE_FORMAT_RAW;
  if (r >= ARCHIVE_WARN && raw && !compressed) return false;  // not an archive
  const std::string where = tree_.path(node);
  if (r >= ARCHIVE_WARN && depth > limits_.max_depth) {
    warn_("'" + where + "': archive nested deeper than max_depth (" +
          std::to_string(limits_.max_depth) + "); kept as a file");
    return false;
  }
  const Tree::Mark mark = tree_.mark();
  tree_.nodes()[static_cast<std::size_t>(node)].mode |= kBitContainer;
  try {
    if (r < ARCHIVE_WARN)
      throw ContainerError{"corrupt or truncated archive (" + archive_message(a.get()) + ")"};
    std::vector<Pending> links;
    std::uint64_t expanded = 0;
    for (archive_entry* e = first; r != ARCHIVE_EOF;) {  // EOF at once: an empty archive
      add_entry(a.get(), e, node, depth, links, expanded);
      r = archive_read_next_header(a.get(), &e);
      if (r < ARCHIVE_WARN)
        throw ContainerError{"corrupt or truncated archive (" + archive_message(a.get()) + ")"};
    }
    settle_links(node, links);
  } catch (const ContainerError& e) {
    tree_.rollback(mark, node);
    tree_.nodes()[static_cast<std::size_t>(node)].mode &= ~kBitContainer;
    if (node == 0) throw Refused("'" + where + "': " + e.what);
    warn_("'" + where + "': " + e.what + "; kept as a file");
    return false;
  }
  return true;
}

void Unpacker::add_entry(archive* a, void* entry_ptr, int container, unsigned depth,
                         std::vector<Pending>& links, std::uint64_t& expanded) {
  auto* e = static_cast<archive_entry*>(entry_ptr);
  const std::string cpath = tree_.path(container);
  const bool raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
  // Copies: adding nodes moves the tree's vector.
  const Node cnode = tree_.nodes()[static_cast<std::size_t>(container)];
  // The name in UTF-8 when libarchive can convert it (zip's UTF-8 flag, pax, the locale's
  // charset); else its raw bytes, which the UTF-8 check then refuses if they are not UTF-8.
  const char* p = archive_entry_pathname_utf8(e);
  if (!p) p = archive_entry_pathname(e);
  const std::string path = raw ? decompressed_name(cnode.name) : std::string(p ? p : "");
  auto skip = [&](const std::string& why) {
    warn_("'" + cpath + "' entry '" + printable(path) + "': " + why + "; skipped");
  };
  std::vector<std::string> parts;
  if (std::string why = split_path(path, parts); !why.empty()) return skip(why);
  const unsigned type = raw ? AE_IFREG : archive_entry_filetype(e);
  const unsigned perms =
      raw ? (cnode.mode & 0666u) : static_cast<unsigned>(archive_entry_perm(e)) & 07777u;
  if (parts.empty()) {
    if (type != AE_IFDIR) skip("empty name");
    return;
  }
  const std::string where = cpath + "/" + path;
  const int parent = ensure_dirs(container, parts, parts.size() - 1, where);
  if (parent < 0) return;
  const std::string& name = parts.back();
  const int existing = tree_.find(parent, name);
  if (type == AE_IFDIR) {
    if (existing < 0) {
      count_node(where);
      tree_.add(parent, name, perms | kBitDir, -1);
    } else if (tree_.nodes()[static_cast<std::size_t>(existing)].content >= 0) {
      skip("a file and a directory share this name");
    } else {
      tree_.nodes()[static_cast<std::size_t>(existing)].mode = perms | kBitDir;
    }
    return;
  }
  if (existing >= 0) return skip("duplicate entry");
  if (const char* hl = raw ? nullptr : archive_entry_hardlink(e)) {
    std::vector<std::string> target;
    if (!split_path(hl, target).empty() || target.empty())
      return skip("hard link to '" + printable(hl) + "' points outside the archive");
    int n = container;
    for (const auto& part : target)
      if (n >= 0) n = tree_.find(n, part);
    if (n < 0 || tree_.nodes()[static_cast<std::size_t>(n)].content < 0)
      return skip("hard link to '" + printable(hl) + "': no such file before it");
    count_node(where);
    const Node& t = tree_.nodes()[static_cast<std::size_t>(n)];
    tree_.add(parent, name, t.mode & ~kBitContainer, t.content);
    return;
  }
  if (type == AE_IFLNK) {
    const char* sl = archive_entry_symlink(e);
    std::string target = sl ? sl : "";
    std::vector<std::string> dir(parts.begin(), parts.end() - 1);
    Pending l{parent, name, target, {}, where};
    if (!resolve_link(dir, target, l.target_parts))
      return skip("symbolic link to '" + printable(target) + "' points outside the archive");
    links.push_back(std::move(l));
    return;
  }
  if (type != AE_IFREG) return skip(entry_kind(type));
  if (archive_entry_is_encrypted(e)) return skip("encrypted");
  count_node(where);
  const std::uint64_t packed = tree_.contents()[static_cast<std::size_t>(cnode.content)].size;
  Content c = store_.put([&](char* buf, std::size_t len) -> std::size_t {
    la_ssize_t n = archive_read_data(a, buf, len);
    if (n < 0) throw ContainerError{"corrupt or truncated archive (" + archive_message(a) + ")"};
    const auto got = static_cast<std::uint64_t>(n);
    expanded += got;
    if (expanded > limits_.ratio_min_size &&
        static_cast<double>(expanded) > limits_.max_ratio * static_cast<double>(packed))
      throw ContainerError{"expands to more than max_ratio (" + ratio_text(limits_.max_ratio) +
                           ") times its size"};
    count_bytes(got, where);
    return static_cast<std::size_t>(got);
  });
  const int child = tree_.add(parent, name, perms, tree_.content(c));
  nest(child, depth + 1);
}

int Unpacker::ensure_dirs(int container, const std::vector<std::string>& parts, std::size_t count,
                          const std::string& where) {
  int n = container;
  for (std::size_t i = 0; i < count; ++i) {
    int next = tree_.find(n, parts[i]);
    if (next < 0) {
      count_node(where);
      next = tree_.add(n, parts[i], 0755u | kBitDir, -1);
    } else if (tree_.nodes()[static_cast<std::size_t>(next)].content >= 0) {
      warn_("'" + where + "': a file and a directory share the name '" + parts[i] + "'; skipped");
      return -1;
    }
    n = next;
  }
  return n;
}

}  // namespace unpack
