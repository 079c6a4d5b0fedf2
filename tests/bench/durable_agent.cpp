// durable_agent: the agent of benchmark g (durable_bench.cpp). Session + agent::ItemLoop, one
// result row per item in durable_result(agent_fk, item, value), written with Database::send_row()
// (queued; a group's rows go as one INSERT with the group's COMMIT). Without --group / --window it
// runs with libagent's defaults, which is what the benchmark's `default` figure measures.
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "agent/agent_pk.hpp"
#include "agent/db.hpp"
#include "agent/item_loop.hpp"
#include "agent/session.hpp"

namespace po = boost::program_options;

namespace {

struct Options {
  std::size_t group = 0;  // 0: ItemLoopOptions' default
  unsigned window = 0;    // 0: SessionOptions' default
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  po::options_description desc("durable_agent options");
  desc.add_options()("group", po::value(&o.group), "items per transaction (default: libagent's)")(
      "window", po::value(&o.window), "WINDOW to ask the scheduler for (default: libagent's)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  po::notify(vm);
  return o;
}

int run(int argc, char** argv) {
  // Our options first, from argv without the scheduler's (the Session needs the
  // window before it starts).
  const Options o = parse(agent::own_args(argc, argv));

  agent::SessionOptions so;
  so.name = "durable_agent";
  if (o.window > 0) so.window = o.window;
  agent::Session session(argc, argv, so);
  agent::Database db = agent::Database::connect(session.args());
  const int pk = agent::agent_pk(db, "durable_agent", "1", "benchmark g agent");
  db.exec(
      "CREATE TABLE IF NOT EXISTS durable_result (agent_fk integer NOT NULL REFERENCES agent, "
      "item text NOT NULL, value text NOT NULL)");
  agent::ItemLoopOptions lo;
  lo.agent_pk = pk;
  if (o.group > 0) lo.group = o.group;
  agent::ItemLoop loop(session, db, lo);
  const std::string agent_fk = std::to_string(pk);
  loop.run([&](agent::Database& tx, const std::string& item) {
    tx.send_row("INSERT INTO durable_result (agent_fk, item, value)", "($1, $2, md5($2))",
                {agent_fk, item});
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "durable_agent: " << e.what() << '\n';
    return 1;
  }
}
