// example: the smallest libagent agent. For each item it logs the item's size and counts it.
// Run by the scheduler (--scheduler_start) or by hand: `example foo bar` or `ls | example`.
#include <cstdio>
#include <string>

#include "agent/session.hpp"

int main(int argc, char** argv) try {
  agent::Session session(argc, argv);
  while (auto item = session.next()) {
    session.info("example: " + *item + " has " + std::to_string(item->size()) + " bytes");
    session.items_processed(1);
  }
  return 0;
} catch (const agent::Error& e) {
  std::fprintf(stderr, "example: %s\n", e.what());
  return 1;
}
