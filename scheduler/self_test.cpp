// Self-tests: one probe agent per (type, host), with a data source that has no line. What
// happens after its OK (end of data, the wait for its exit, heartbeat timeout, NOKILL) is the
// Agent's, exactly as for a step.
#include "self_test.hpp"

#include <algorithm>

#include "launch.hpp"

namespace sched {

std::string SelfTestResult::line() const {
  if (passed) return "PASS " + type + " on " + host;
  return "FAIL " + type + " on " + host + ": " + reason;
}

SelfTest::SelfTest(std::shared_ptr<const Config> config) : config_(std::move(config)) {}

SelfTest::~SelfTest() {
  for (auto& p : probes_)
    if (p.agent) p.agent->kill_now("self-test abandoned");
}

void SelfTest::run(std::function<void(std::vector<SelfTestResult>)> on_done) {
  on_done_ = std::move(on_done);
  long long test_id = 0;
  for (const auto& [name, type] : config_->agents) {
    for (const auto& host : config_->hosts) {
      if (type.has(kLocal) && !host.local()) continue;
      results_.push_back({name, host.name, false, ""});
      Probe& probe = probes_.emplace_back();
      probe.result = results_.size() - 1;
      probe.source = std::make_unique<PlainSource>(std::nullopt);
      AgentSpec spec;
      spec.config = config_;
      spec.type = &type;
      spec.host = &host;
      spec.jq_pk = --test_id;
      Launch launch = launch_for(*config_, type, host, {0, spec.jq_pk, 0, 0, std::nullopt});
      spec.argv = std::move(launch.argv);
      spec.cwd = std::move(launch.cwd);
      probe.agent = std::make_unique<Agent>(std::move(spec), probe.source.get(), *this, nullptr);
      try {
        probe.agent->start();
      } catch (const SpawnError& e) {
        results_[probe.result].reason = e.what();
        probe.agent.reset();
      }
    }
  }
  finish_if_done();
}

void SelfTest::stop(const std::string& reason) {
  for (auto& p : probes_)
    if (p.agent) p.agent->kill_now(reason);
}

// A type without allow_db gets the answer a step gives it; the self-test runs no agent's SQL.
void SelfTest::on_agent_db(Agent& agent, const std::string&) {
  agent.reply_db({}, agent.type().allow_db ? "not run during the self-test" : "not permitted");
}

void SelfTest::on_agent_exit(Agent& agent, const AgentOutcome& outcome) {
  for (auto& p : probes_) {
    if (p.agent.get() != &agent) continue;
    results_[p.result].passed = outcome.success;
    results_[p.result].reason = outcome.reason;
    p.agent.reset();  // destroys `agent`
    break;
  }
  finish_if_done();
}

void SelfTest::finish_if_done() {
  bool running = std::any_of(probes_.begin(), probes_.end(),
                             [](const Probe& p) { return p.agent != nullptr; });
  if (running || !on_done_) return;
  auto done = std::move(on_done_);
  on_done_ = nullptr;
  done(results_);
}

}  // namespace sched
