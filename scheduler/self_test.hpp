// SelfTest: `-t` / `-T` (SPEC §6). Every agent type is spawned on every host it may run on
// and driven by the same Agent lifecycle as a step with no data: it passes when a step with no
// data would complete (OK, end of data, clean exit, judged by the step's own timers and NOKILL)
// — nothing here adds a rule of its own. All tests run at once on the loop; `on_done` gets one
// result per (type, host).
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "agent.hpp"
#include "config.hpp"

namespace sched {

struct SelfTestResult {
  std::string type;
  std::string host;
  bool passed = false;
  std::string reason;        // why it failed
  std::string line() const;  // "PASS example on localhost" / "FAIL x on h: reason"
};

class SelfTest final : public AgentListener {
 public:
  explicit SelfTest(std::shared_ptr<const Config> config);
  ~SelfTest() override;
  void run(std::function<void(std::vector<SelfTestResult>)> on_done);
  // Kills the probes still running (they fail with `reason`); on_done follows once they exit.
  void stop(const std::string& reason);

  void on_agent_running(Agent&) override {}
  void on_agent_items(Agent&, std::uint64_t) override {}
  void on_agent_db(Agent& agent, const std::string&) override;
  void on_agent_subs(Agent&, const std::string&, const std::string&) override {}
  void on_agent_bad_data(Agent&, const std::string&) override {}  // probes get no data
  void on_agent_exit(Agent& agent, const AgentOutcome& outcome) override;

 private:
  struct Probe {
    std::unique_ptr<PlainSource> source;
    std::unique_ptr<Agent> agent;
    std::size_t result = 0;  // index into results_
  };
  void finish_if_done();

  std::shared_ptr<const Config> config_;
  std::list<Probe> probes_;
  std::vector<SelfTestResult> results_;
  std::function<void(std::vector<SelfTestResult>)> on_done_;
};

}  // namespace sched
