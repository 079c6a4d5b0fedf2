// row_agent: a test agent for SQL-fed steps (docs/feeding.md), on agent::Session. For each data
// line (a row line) it records which host processed it:
//   --record=FILE  appends `<host> <line>` to FILE (one write(2) per line, O_APPEND);
//   --results      in one transaction (on its own connection: --db or Db.conf) inserts
//                  feed_seen(item, host, pid) always and feed_result(item, host, pid) unless the
//                  item is there already, and acknowledges the line only after the commit.
// `item` is the value of the --key column (default: the first). The host is --host, else the
// name of the agentdir the binary was started from (<agentdir>/row_agent/row_agent), so that
// per-host agentdirs of symlinks tell "hosts" on one machine apart. --subs=KEY=VALUE (repeat)
// sends JQ_SUBS before the first OK; --work-ms=N sleeps per line; --window=N asks for a window;
// --mute never says OK, as an agent that hangs before it: it appends `<host> mute` to the
// --record file (if any), writes one Heartbeat (so that a heartbeat timeout runs from the moment
// it runs) and waits for stdin's EOF.
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/db.hpp"
#include "agent/protocol.hpp"
#include "agent/session.hpp"

namespace po = boost::program_options;

namespace {

struct Options {
  std::string host, record, key;
  bool results = false;
  bool mute = false;
  unsigned window = 1;
  unsigned work_ms = 0;
  unsigned heartbeat_ms = 2000;
  std::vector<std::string> subs;
};

Options parse(int argc, char** argv) {
  Options o;
  po::options_description desc("row_agent options");
  desc.add_options()("host", po::value(&o.host), "host name to record")(
      "record", po::value(&o.record), "file to append `<host> <line>` to")(
      "results", po::bool_switch(&o.results), "record into feed_seen/feed_result")(
      "key", po::value(&o.key), "the column that names the item")(
      "window", po::value(&o.window), "WINDOW")("work-ms", po::value(&o.work_ms), "ms per line")(
      "heartbeat-ms", po::value(&o.heartbeat_ms), "heartbeat period")(
      "subs", po::value(&o.subs), "KEY=VALUE sent as JQ_SUBS before the first OK")(
      "mute", po::bool_switch(&o.mute), "one Heartbeat, no OK; wait for stdin's EOF");
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
  po::notify(vm);
  if (o.host.empty())
    o.host = std::filesystem::path(argv[0]).parent_path().parent_path().filename().string();
  return o;
}

std::string item_of(const std::string& line, const std::string& key) {
  auto parsed = agent::protocol::parse_row(line);
  if (!parsed.row || parsed.row->fields.empty()) return line;
  const agent::protocol::Field* f =
      key.empty() ? &parsed.row->fields.front() : parsed.row->find(key);
  return f && f->value ? *f->value : "";
}

void record_file(int fd, const std::string& host, const std::string& line) {
  std::string out = host + " " + line + "\n";
  if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
    throw std::runtime_error("cannot write the record file");
}

void record_db(agent::Database& db, const std::string& item, const std::string& host) {
  std::string pid = std::to_string(getpid());
  agent::Transaction tx(db);
  db.exec("INSERT INTO feed_seen(item, host, pid) VALUES ($1, $2, $3)", {item, host, pid});
  db.exec(
      "INSERT INTO feed_result(item, host, pid) SELECT $1, $2, $3 "
      "WHERE NOT EXISTS (SELECT 1 FROM feed_result WHERE item = $1)",
      {item, host, pid});
  tx.commit();
}

}  // namespace

int main(int argc, char** argv) try {
  agent::SessionOptions so;
  so.name = "row_agent";
  Options pre;
  {
    // The window must be known before the Session starts; parse once for it.
    int c = argc;
    std::vector<char*> copy(argv, argv + argc + 1);
    agent::take_scheduler_args(c, copy.data());
    pre = parse(c, copy.data());
  }
  if (pre.mute) {
    if (!pre.record.empty()) {
      int fd = ::open(pre.record.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      record_file(fd, pre.host, "mute");
      ::close(fd);
    }
    const std::string heartbeat = "Heartbeat\n";
    if (::write(STDOUT_FILENO, heartbeat.data(), heartbeat.size()) < 0) return 1;
    char buf[4096];
    while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  so.window = pre.window;
  so.heartbeat = std::chrono::milliseconds(pre.heartbeat_ms);
  agent::Session session(argc, argv, so);
  Options o = parse(argc, argv);
  std::optional<agent::Database> db;
  if (o.results) db.emplace(agent::Database::connect(session.args()));
  int fd = -1;
  if (!o.record.empty())
    fd = ::open(o.record.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  for (const auto& kv : o.subs) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) session.jq_subs(kv.substr(0, eq), kv.substr(eq + 1));
  }
  while (auto line = session.next()) {
    if (o.work_ms) std::this_thread::sleep_for(std::chrono::milliseconds(o.work_ms));
    if (fd >= 0) record_file(fd, o.host, *line);
    if (db) record_db(*db, item_of(*line, o.key), o.host);
    session.items_processed(1);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "row_agent: " << e.what() << "\n";
  return 1;
}
