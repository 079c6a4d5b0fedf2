// save_tree: pfile then uploadtree, in batches of arrays (unnest), so that a tree of 100,000
// files costs a few dozen statements instead of 200,000.
#include "tree_db.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace unpack {
namespace {

constexpr std::size_t kBatch = 10'000;

// Statements (SPEC style: named constants in one place).
constexpr const char* kInsertPfiles =
    "INSERT INTO pfile (pfile_sha1, pfile_md5, pfile_size) "
    "SELECT * FROM unnest($1::char(40)[], $2::char(32)[], $3::bigint[]) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kSelectPfiles =
    "SELECT u.i, p.pfile_pk FROM unnest($1::char(40)[], $2::char(32)[], $3::bigint[]) "
    "WITH ORDINALITY AS u(s, m, z, i) "
    "JOIN pfile p ON p.pfile_sha1 = u.s AND p.pfile_md5 = u.m AND p.pfile_size = u.z";
constexpr const char* kNextPks =
    "SELECT nextval(pg_get_serial_sequence('uploadtree', 'uploadtree_pk')) "
    "FROM generate_series(1, $1)";
constexpr const char* kInsertTree =
    "INSERT INTO uploadtree (uploadtree_pk, parent, upload_fk, pfile_fk, ufile_mode, lft, rgt, "
    "ufile_name) SELECT u.pk, u.parent, $8, u.pfile, u.mode, u.lft, u.rgt, u.name "
    "FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[], $7::text[]) "
    "AS u(pk, parent, pfile, mode, lft, rgt, name)";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// Array literal builders: "{a,b,NULL}" and "{\"x\",\"y\"}".
struct ArrayText {
  std::string text = "{";
  void add_raw(const std::string& v) {
    if (text.size() > 1) text += ',';
    text += v;
  }
  void add_quoted(const std::string& v) { agent::append_array_element(text, v); }
  std::string done() const { return text + "}"; }
};

// pfile_pk of every content, in Tree::contents() order; counts the rows this call created.
std::vector<long long> save_pfiles(agent::Database& db, const Tree& tree, std::uint64_t& fresh) {
  const auto& contents = tree.contents();
  std::vector<std::size_t> order(contents.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // One order for every upload, so that two uploads sharing files lock them in the same order.
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return contents[a].sha1 < contents[b].sha1; });
  std::vector<long long> pk(contents.size(), 0);
  for (std::size_t from = 0; from < order.size(); from += kBatch) {
    const std::size_t to = std::min(order.size(), from + kBatch);
    ArrayText sha1, md5, size;
    for (std::size_t i = from; i < to; ++i) {
      const Content& c = contents[order[i]];
      sha1.add_raw(upper(c.sha1));
      md5.add_raw(upper(c.md5));
      size.add_raw(std::to_string(c.size));
    }
    const std::string s = sha1.done(), m = md5.done(), z = size.done();
    fresh += static_cast<std::uint64_t>(db.exec(kInsertPfiles, {s, m, z}).affected());
    agent::Result r = db.exec(kSelectPfiles, {s, m, z});
    for (int row = 0; row < r.rows(); ++row) {
      const std::size_t i = from + std::stoull(r.get(row, 0)) - 1;
      pk[order[i]] = std::stoll(r.get(row, 1));
    }
  }
  return pk;
}

// Nodes in depth-first order (children by name) with their lft/rgt numbers.
struct Placed {
  int node;
  long long lft = 0, rgt = 0;
};

std::vector<Placed> place(const Tree& tree) {
  const auto& nodes = tree.nodes();
  std::vector<Placed> out;
  out.reserve(nodes.size());
  std::vector<std::size_t> slot(nodes.size(), 0);
  long long counter = 0;
  // An explicit stack: (node, next child to visit) — a deep tree must not overflow the stack.
  std::vector<std::pair<int, std::size_t>> stack;
  std::vector<std::vector<int>> sorted(nodes.size());
  auto enter = [&](int n) {
    slot[static_cast<std::size_t>(n)] = out.size();
    out.push_back({n, ++counter, 0});
    auto& kids = sorted[static_cast<std::size_t>(n)];
    kids = nodes[static_cast<std::size_t>(n)].kids;
    std::sort(kids.begin(), kids.end(), [&](int a, int b) {
      return nodes[static_cast<std::size_t>(a)].name < nodes[static_cast<std::size_t>(b)].name;
    });
    stack.emplace_back(n, 0);
  };
  enter(0);
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    const auto& kids = sorted[static_cast<std::size_t>(n)];
    if (next < kids.size()) {
      enter(kids[next++]);
      continue;
    }
    out[slot[static_cast<std::size_t>(n)]].rgt = ++counter;
    sorted[static_cast<std::size_t>(n)].clear();
    stack.pop_back();
  }
  return out;
}

}  // namespace

SavedTree save_tree(agent::Database& db, long long upload_pk, const Tree& tree) {
  SavedTree saved;
  const std::vector<long long> pfile = save_pfiles(db, tree, saved.new_pfiles);
  const std::vector<Placed> placed = place(tree);
  const auto& nodes = tree.nodes();

  std::vector<long long> pk(nodes.size(), 0);
  {
    agent::Result r = db.exec(kNextPks, {std::to_string(nodes.size())});
    for (int row = 0; row < r.rows(); ++row)
      pk[static_cast<std::size_t>(placed[static_cast<std::size_t>(row)].node)] =
          std::stoll(r.get(row, 0));
  }
  const std::string upload = std::to_string(upload_pk);
  for (std::size_t from = 0; from < placed.size(); from += kBatch) {
    const std::size_t to = std::min(placed.size(), from + kBatch);
    ArrayText pks, parents, pfiles, modes, lfts, rgts, names;
    for (std::size_t i = from; i < to; ++i) {
      const Node& n = nodes[static_cast<std::size_t>(placed[i].node)];
      pks.add_raw(std::to_string(pk[static_cast<std::size_t>(placed[i].node)]));
      parents.add_raw(n.parent < 0 ? "NULL"
                                   : std::to_string(pk[static_cast<std::size_t>(n.parent)]));
      pfiles.add_raw(n.content < 0 ? "NULL"
                                   : std::to_string(pfile[static_cast<std::size_t>(n.content)]));
      modes.add_raw(std::to_string(n.mode));
      lfts.add_raw(std::to_string(placed[i].lft));
      rgts.add_raw(std::to_string(placed[i].rgt));
      names.add_quoted(n.name);
    }
    const std::string a1 = pks.done(), a2 = parents.done(), a3 = pfiles.done(), a4 = modes.done(),
                      a5 = lfts.done(), a6 = rgts.done(), a7 = names.done();
    saved.rows += static_cast<std::uint64_t>(
        db.exec(kInsertTree, {a1, a2, a3, a4, a5, a6, a7, upload}).affected());
  }
  if (nodes[0].content >= 0) saved.root_pfile = pfile[static_cast<std::size_t>(nodes[0].content)];
  return saved;
}

}  // namespace unpack
