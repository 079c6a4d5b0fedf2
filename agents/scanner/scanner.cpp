// Scanner: options, the two modes, and the KILL-safe loop over pfile rows (scanner.hpp).
#include "scanner.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <vector>

#include "agent/agent_pk.hpp"
#include "agent/item_loop.hpp"
#include "agent/repository.hpp"

namespace po = boost::program_options;

namespace scanner {
namespace {

struct Options {
  std::string repository = agent::Repository::default_root();
  std::size_t group = 32;
  unsigned window = 64;
  std::vector<std::string> items;
  bool help = false;
};

// The agent's own options, parsed from argv without the scheduler's (the Session
// needs the window before it starts). Throws po::error.
Options parse_options(int argc, char** argv, const std::string& name, std::string& usage) {
  const std::vector<std::string> args = agent::own_args(argc, argv);

  Options o;
  po::options_description desc(name + " options");
  desc.add_options()("help,h", po::bool_switch(&o.help), "this text")(
      "repository", po::value(&o.repository),
      "repository root (default: $JOBLINE_REPOSITORY, else the build's default)")(
      "group", po::value(&o.group), "files per transaction (1..1024, default 32)")(
      "window", po::value(&o.window), "WINDOW asked of the scheduler (1..1024, default 64)")(
      "file", po::value(&o.items), "standalone: files to scan (else their paths on stdin)");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (o.group < 1 || o.group > 1024) throw po::error("--group: expected 1..1024");
  if (o.window < 1 || o.window > 1024) throw po::error("--window: expected 1..1024");
  std::ostringstream text;
  text << "usage: " << name << " [options] [FILE...]\n"
       << "Run by the scheduler (--scheduler_start) on SQL-fed rows (pfile_pk, pfile_sha1), or\n"
       << "by hand on files: prints what it finds.\n"
       << desc;
  usage = text.str();
  return o;
}

// CPU time of this process so far (user + system), in milliseconds.
long cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

void run_standalone(agent::Session& session, const Spec& spec) {
  while (auto path = session.next()) {
    try {
      spec.print(*path);
    } catch (const std::exception& e) {  // one bad file does not stop the others
      session.error(e.what());
    }
  }
}

// One row line: claims the file for this agent_pk and stores its results.
void handle_row(agent::Session& session, agent::Database& db, const agent::Repository& repo,
                const Spec& spec, int agent_pk, const std::string& item) {
  const auto parsed = agent::protocol::parse_row(item);
  const agent::protocol::Field* pk = parsed.row ? parsed.row->find("pfile_pk") : nullptr;
  const agent::protocol::Field* sha1 = parsed.row ? parsed.row->find("pfile_sha1") : nullptr;
  if (!pk || !pk->value || !sha1 || !sha1->value) {
    session.error("row skipped: expected the columns pfile_pk and pfile_sha1 (not NULL): '" +
                  item.substr(0, 200) + "'");
    return;
  }
  std::string path;
  try {
    path = repo.path_of(*sha1->value);
  } catch (const std::invalid_argument& e) {
    session.error("row skipped: pfile_sha1: " + std::string(e.what()));
    return;
  }
  // A file missing from the repository (or not a regular file there) is not claimed: it is
  // reported, and a later run of the step's query offers it again (e.g. once it is mounted).
  struct stat st {};
  errno = 0;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(path.c_str(), R_OK) != 0) {
    const std::string why = errno != 0 ? std::strerror(errno) : "not a regular file";
    session.error("pfile " + *pk->value + ": cannot read '" + path + "': " + why);
    return;
  }
  const bool claimed = db.exec(
                             "INSERT INTO pfile_scanned (agent_fk, pfile_fk) VALUES ($1, $2) "
                             "ON CONFLICT DO NOTHING RETURNING 1",
                             {std::to_string(agent_pk), *pk->value})
                           .rows() == 1;
  if (!claimed) return;
  try {
    spec.store(session, db, agent_pk, *pk->value, path);
  } catch (const std::runtime_error& e) {
    // A database error rolls the group back. Anything else is the file (unreadable, or
    // libmagic's error) and comes before any write (stores read first): it is reported and
    // the claim is taken back, so a later run of the query offers the file again. (Should
    // the transaction be broken after all, the DELETE throws and the group rolls back.)
    if (auto* db_error = dynamic_cast<const agent::Error*>(&e);
        db_error && !db_error->sqlstate().empty())
      throw;
    session.error("pfile " + *pk->value + ": " + e.what() + "; not scanned");
    db.exec("DELETE FROM pfile_scanned WHERE agent_fk = $1 AND pfile_fk = $2",
            {std::to_string(agent_pk), *pk->value});
  }
}

void run_scheduled(agent::Session& session, const Spec& spec, const Options& o) {
  agent::Database db = agent::Database::connect(session.args());
  const int agent_pk = agent::agent_pk(db, spec.name, spec.rev, spec.desc);
  if (spec.prepare) spec.prepare(db, agent_pk);
  session.jq_subs("$agent_pk", std::to_string(agent_pk));  // before the first OK
  const agent::Repository repo(o.repository);
  agent::ItemLoop loop(session, db, {agent_pk, "", o.group, true});
  const auto stats = loop.run([&](agent::Database& tx, const std::string& item) {
    handle_row(session, tx, repo, spec, agent_pk, item);
  });
  session.info(spec.name + ": " + std::to_string(stats.handled) + " row(s) handled, " +
               std::to_string(stats.skipped) + " already done, " +
               std::to_string(stats.transactions) + " transaction(s), " + std::to_string(cpu_ms()) +
               " ms CPU");
}

}  // namespace

std::string read_file(const std::string& path, std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw agent::Error("cannot open '" + path + "': " + std::strerror(errno));
  std::string out;
  char buf[65536];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw agent::Error("cannot read '" + path + "': " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

// Length of the UTF-8 sequence at s[i] (1..4), or 0 when it is not well formed.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string to_text(std::string_view bytes) {
  bool utf8 = true;
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8_len(bytes, i);
    if (n == 0) {
      utf8 = false;
      break;
    }
    i += n;
  }
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) {
      out += "\xEF\xBF\xBD";
    } else if (utf8 || c < 0x80) {
      out += ch;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

void insert_rows(agent::Database& db, std::string_view head, std::string_view tuple,
                 std::size_t per_row, const std::vector<std::string>& values) {
  if (per_row == 0 || values.size() % per_row != 0)
    throw agent::Error("insert_rows: values are not whole rows");
  std::vector<agent::Database::Param> row(per_row);
  for (std::size_t first = 0; first < values.size(); first += per_row) {
    for (std::size_t i = 0; i < per_row; ++i) row[i] = values[first + i];
    db.send_row(head, tuple, row);
  }
}

int run(int argc, char** argv, const Spec& spec) {
  Options o;
  std::string usage;
  try {
    o = parse_options(argc, argv, spec.name, usage);
  } catch (const std::exception& e) {
    std::cerr << spec.name << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  if (o.help) {
    std::cout << usage;
    return 0;
  }
  try {
    agent::Session session(argc, argv, {spec.name, std::chrono::milliseconds(30'000), o.window});
    if (session.mode() == agent::Mode::Standalone) {
      session.set_items(o.items);
      run_standalone(session, spec);
    } else {
      run_scheduled(session, spec, o);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << spec.name << ": " << e.what() << '\n';
    return 1;
  }
}

}  // namespace scanner
