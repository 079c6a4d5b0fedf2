// chaos_agent: the test agent of the chaos test (tests/chaos/). On agent::Session +
// agent::ItemLoop (the KILL-safe loop): for each item it writes --parts rows into
// chaos_result(item, part, value, pid, at) in the item's transaction, with value =
// md5(item || ':' || part), so a clean run's rows are known exactly. An item is a plain step's
// data line itself, or the `item` column of an SQL-fed step's row line. --work-us sleeps per
// item (inside the transaction, so that SIGKILLs land mid-item); --tag is ignored: it marks the
// process so that the driver finds the agents of its run in /proc.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_pk.hpp"
#include "agent/db.hpp"
#include "agent/item_loop.hpp"
#include "agent/protocol.hpp"
#include "agent/session.hpp"

namespace po = boost::program_options;

namespace {

struct Options {
  unsigned work_us = 0;
  std::size_t group = 1;
  unsigned window = 1;
  unsigned parts = 2;
  unsigned heartbeat_ms = 1000;
  std::string tag;
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  po::options_description desc("chaos_agent options");
  desc.add_options()("work-us", po::value(&o.work_us), "sleep per item")(
      "group", po::value(&o.group), "items per transaction")("window", po::value(&o.window),
                                                             "WINDOW to ask the scheduler for")(
      "parts", po::value(&o.parts), "result rows per item")(
      "heartbeat-ms", po::value(&o.heartbeat_ms), "heartbeat period")(
      "tag", po::value(&o.tag), "a marker for the driver (ignored)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  po::notify(vm);
  return o;
}

// The item of a data line: the `item` column of a row line, else the line itself.
std::string item_of(const std::string& line) {
  auto parsed = agent::protocol::parse_row(line);
  if (parsed.row)
    if (const auto* f = parsed.row->find("item"); f && f->value) return *f->value;
  return line;
}

int run(int argc, char** argv) {
  // The Session needs the window before it starts: our options first, from argv
  // without the scheduler's options.
  const Options o = parse(agent::own_args(argc, argv));

  agent::Session session(argc, argv,
                         {"chaos_agent", std::chrono::milliseconds(o.heartbeat_ms), o.window});
  agent::Database db = agent::Database::connect(session.args());
  const int pk = agent::agent_pk(db, "chaos_agent", "1", "chaos test agent");
  agent::ItemLoop loop(session, db, {pk, "", o.group, true});
  const std::string pid = std::to_string(::getpid());
  loop.run([&](agent::Database& tx, const std::string& line) {
    const std::string item = item_of(line);
    if (o.work_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.work_us));
    for (unsigned part = 1; part <= o.parts; ++part)
      tx.send(
          "INSERT INTO chaos_result (item, part, value, pid) "
          "VALUES ($1, $2::integer, md5($1 || ':' || $2), $3::integer)",
          {item, std::to_string(part), pid});
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "chaos_agent: " << e.what() << '\n';
    return 1;
  }
}
