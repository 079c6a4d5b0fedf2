// unpack: registers an upload (SPEC §9). Its data line is an upload_pk (plugin `args =
// $upload`); it unpacks upload.upload_filename — a directory or an archive — into the
// repository and writes the upload's pfile/uploadtree rows and its unpack_ars success row in
// one transaction, so a run killed at any instant leaves nothing half done and a re-run of a
// finished upload adds nothing. Options and limits: docs/agents.md, "unpack".
#include <charconv>
#include <clocale>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "agent/agent_pk.hpp"
#include "agent/ars.hpp"
#include "agent/db.hpp"
#include "agent/repository.hpp"
#include "agent/session.hpp"
#include "store.hpp"
#include "tree_db.hpp"
#include "unpacker.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* kName = "unpack";
constexpr const char* kRev = "1";
constexpr const char* kDesc = "Registers a directory or an archive: repository, pfile, uploadtree";
constexpr unsigned kMaxWarnings = 100;  // per upload; the rest are counted

struct Options {
  bool help = false;
  std::string repository;
  unpack::Limits limits;
  std::vector<std::string> items;
};

Options parse_options(int argc, char** argv) {
  Options o;
  po::options_description desc("unpack options");
  desc.add_options()("help,h", "this help")(
      "repository", po::value(&o.repository)->default_value(agent::Repository::default_root()),
      "the repository's root (default: $JOBLINE_REPOSITORY, else the build's default)")(
      "max-depth", po::value(&o.limits.max_depth)->default_value(o.limits.max_depth),
      "levels of archives in archives (the upload's own archive is level 1)")(
      "max-total-size", po::value(&o.limits.max_total_size)->default_value(o.limits.max_total_size),
      "bytes of all the files of an upload, at most")(
      "max-files", po::value(&o.limits.max_files)->default_value(o.limits.max_files),
      "entries (files, directories) of an upload, at most")(
      "max-ratio", po::value(&o.limits.max_ratio)->default_value(o.limits.max_ratio),
      "an archive may expand to this many times its size...")(
      "ratio-min-size", po::value(&o.limits.ratio_min_size)->default_value(o.limits.ratio_min_size),
      "...once it has expanded past this many bytes")("item", po::value(&o.items),
                                                      "upload ids (standalone mode)");
  po::positional_options_description pos;
  pos.add("item", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: unpack [options] [upload_pk...]\n" << desc;
    o.help = true;
    return o;
  }
  po::notify(vm);
  if (o.limits.max_depth < 1) throw po::error("--max-depth must be at least 1");
  if (!(o.limits.max_ratio >= 1)) throw po::error("--max-ratio must be at least 1");
  return o;
}

// One upload: unpack, then write everything in one transaction. Returns false when the
// upload was refused (the FATAL line is sent).
bool handle(agent::Session& session, agent::Database& db, int agent_pk, const Options& opt,
            long long upload) {
  const std::string tag = "upload " + std::to_string(upload) + ": ";
  const int upload_pk = static_cast<int>(upload);
  if (agent::ars_done(db, kName, agent_pk, upload_pk)) {
    session.info(tag + "already unpacked; nothing to do");
    return true;
  }
  agent::Result row =
      db.exec("SELECT upload_filename FROM upload WHERE upload_pk = $1", {std::to_string(upload)});
  if (row.rows() == 0) {
    session.fatal(tag + "no such upload");
    return false;
  }
  if (row.is_null(0, 0) || row.get(0, 0).empty()) {
    session.fatal(tag + "upload_filename is empty");
    return false;
  }
  unsigned warnings = 0;
  unpack::Store store{agent::Repository(opt.repository)};
  unpack::Unpacker unpacker(store, opt.limits, [&](const std::string& w) {
    if (++warnings <= kMaxWarnings) session.warning(tag + w);
  });
  unpack::Tree tree;
  try {
    tree = unpacker.unpack(row.get(0, 0));
  } catch (const unpack::Refused& e) {
    session.fatal(tag + e.what());
    return false;
  }
  if (warnings > kMaxWarnings)
    session.warning(tag + std::to_string(warnings - kMaxWarnings) + " more warnings not shown");

  agent::Transaction tx(db);
  // Serialises runs over the same upload; the second one then sees the first one's success.
  db.exec("SELECT 1 FROM upload WHERE upload_pk = $1 FOR UPDATE", {std::to_string(upload)});
  if (agent::ars_done(db, kName, agent_pk, upload_pk)) {
    session.info(tag + "already unpacked by another run; nothing to do");
    return true;  // tx rolls back: nothing to write
  }
  // Rows without a successful unpack run are not ours to keep (another tool wrote them).
  long long stale =
      db.exec("DELETE FROM uploadtree WHERE upload_fk = $1", {std::to_string(upload)}).affected();
  if (stale > 0) session.warning(tag + std::to_string(stale) + " stale uploadtree rows replaced");
  unpack::SavedTree saved = unpack::save_tree(db, upload, tree);
  if (saved.root_pfile > 0)
    db.exec("UPDATE upload SET pfile_fk = $2 WHERE upload_pk = $1",
            {std::to_string(upload), std::to_string(saved.root_pfile)});
  int ars = agent::ars_start(db, kName, agent_pk, upload_pk);
  agent::ars_finish(db, ars, true, "Completed");
  tx.commit();

  std::uint64_t files = 0;
  for (const auto& n : tree.nodes()) files += n.content >= 0 ? 1 : 0;
  session.info(tag + std::to_string(saved.rows) + " entries, " + std::to_string(files) +
               " files, " + std::to_string(tree.contents().size()) + " distinct contents (" +
               std::to_string(store.written()) + " new in the repository, " +
               std::to_string(saved.new_pfiles) + " new pfile rows), " +
               std::to_string(unpacker.total_bytes()) + " bytes");
  session.items_processed(files);
  return true;
}

}  // namespace

int main(int argc, char** argv) try {
  std::setlocale(LC_ALL, "C.UTF-8");  // libarchive hands names over as bytes of this locale
  agent::Session session(argc, argv, {kName});
  Options opt;
  try {
    opt = parse_options(argc, argv);
  } catch (const po::error& e) {
    session.fatal(std::string("bad option: ") + e.what());
    return 2;
  }
  if (opt.help) return 0;
  if (session.mode() == agent::Mode::Standalone) session.set_items(opt.items);
  agent::Database db = agent::Database::connect(session.args());
  const int agent_pk = agent::agent_pk(db, kName, kRev, kDesc);
  agent::ars_ensure_table(db, kName);
  bool ok = true;
  while (auto item = session.next()) {
    long long upload = 0;
    auto [end, ec] = std::from_chars(item->data(), item->data() + item->size(), upload);
    if (ec != std::errc() || end != item->data() + item->size() || upload <= 0 ||
        upload > 2147483647) {
      session.fatal("data line '" + *item + "' is not an upload id (a positive integer)");
      ok = false;
      break;
    }
    if (!handle(session, db, agent_pk, opt, upload)) {
      ok = false;
      break;
    }
  }
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "unpack: %s\n", e.what());
  return 1;
}
