// kill_agent: a test agent on agent::Session + agent::ItemLoop for the database tests. For each
// item it writes 3 rows into kill_result(agent_fk, item, part, value) — with --write row
// (default) by Database::send_row() (a group's rows are one INSERT, sent with its COMMIT), send
// (Database::send(): queued statements) or exec (a round trip each) — optionally sleeping
// between them so that a SIGKILL lands in the middle of an item. --stall-on ITEM: after
// ITEM's rows have reached the server (uncommitted), create --stall-file and sleep, so that a
// test can kill it between the write and the commit. Also: --agent-pk-only (print the
// agent_pk and exit, after waiting for EOF on --wait-fd) for the agent_pk race test.
// --group 0 (and no --window) runs it with libagent's defaults.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_pk.hpp"
#include "agent/db.hpp"
#include "agent/item_loop.hpp"
#include "agent/session.hpp"

namespace po = boost::program_options;

namespace {

struct Options {
  unsigned delay_us = 0;
  std::size_t group = 1;  // 0: ItemLoopOptions' default
  unsigned window = 0;    // 0: SessionOptions' default (the loop widens it to its groups)
  std::string write = "row";
  std::string stall_on;
  std::string stall_file;
  unsigned heartbeat_ms = 30'000;
  bool agent_pk_only = false;
  int wait_fd = -1;
  std::vector<std::string> items;
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  po::options_description desc("kill_agent options");
  desc.add_options()("delay-us", po::value(&o.delay_us), "sleep before each result row")(
      "group", po::value(&o.group), "items per transaction (0: libagent's default)")(
      "window", po::value(&o.window), "WINDOW to ask the scheduler for")(
      "heartbeat-ms", po::value(&o.heartbeat_ms), "heartbeat period")(
      "write", po::value(&o.write), "row | send | exec: how the rows are written")(
      "stall-on", po::value(&o.stall_on), "item after whose writes to stall")(
      "stall-file", po::value(&o.stall_file), "created when stalling")(
      "agent-pk-only", po::bool_switch(&o.agent_pk_only), "print the agent_pk and exit")(
      "wait-fd", po::value(&o.wait_fd), "before agent_pk(), wait for EOF on this fd")(
      "item", po::value(&o.items), "items (standalone)");
  po::positional_options_description pos;
  pos.add("item", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  return o;
}

void wait_for_eof(int fd) {
  char buf[64];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}

void create_result_table(agent::Database& db) {
  agent::Transaction tx(db);
  db.exec("SELECT pg_advisory_xact_lock(hashtext('kill_result'))");
  db.exec(
      "CREATE TABLE IF NOT EXISTS kill_result (agent_fk integer NOT NULL REFERENCES agent, "
      "item text NOT NULL, part integer NOT NULL, value text NOT NULL)");
  tx.commit();
}

int run(int argc, char** argv) {
  // The Session needs the window before it starts, so our own options are parsed first, from argv
  // without the scheduler's options (agent::own_args).
  const Options o = parse(agent::own_args(argc, argv));
  if (o.write != "row" && o.write != "send" && o.write != "exec")
    throw std::runtime_error("--write: expected row, send or exec");

  agent::Session session(argc, argv,
                         {"kill_agent", std::chrono::milliseconds(o.heartbeat_ms),
                          o.window > 0 ? o.window : agent::SessionOptions{}.window});
  session.set_items(o.items);
  agent::Database db = agent::Database::connect(session.args());
  if (o.agent_pk_only) {
    if (o.wait_fd >= 0) wait_for_eof(o.wait_fd);
    std::cout << agent::agent_pk(db, "kill_agent", "1", "test agent") << std::endl;
    return 0;
  }
  const int pk = agent::agent_pk(db, "kill_agent", "1", "test agent");
  create_result_table(db);
  agent::ItemLoopOptions lo{pk, "", agent::default_group, true};
  if (o.group > 0) lo.group = o.group;
  agent::ItemLoop loop(session, db, lo);
  const std::string agent_fk = std::to_string(pk);
  loop.run([&](agent::Database& tx, const std::string& item) {
    for (int part = 1; part <= 3; ++part) {
      if (o.delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.delay_us));
      const std::string p = std::to_string(part);
      if (o.write == "row") {
        tx.send_row("INSERT INTO kill_result (agent_fk, item, part, value)",
                    "($1, $2, $3::integer, md5($2 || ':' || $3))", {agent_fk, item, p});
        continue;
      }
      const char* sql =
          "INSERT INTO kill_result (agent_fk, item, part, value) "
          "VALUES ($1, $2, $3::integer, md5($2 || ':' || $3))";
      if (o.write == "exec")
        tx.exec(sql, {agent_fk, item, p});
      else
        tx.send(sql, {agent_fk, item, p});
    }
    if (!o.stall_on.empty() && item == o.stall_on) {
      tx.sync();  // the rows are in the server, not committed
      const int fd = ::open(o.stall_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
      std::this_thread::sleep_for(std::chrono::minutes(5));
    }
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "kill_agent: " << e.what() << '\n';
    return 1;
  }
}
