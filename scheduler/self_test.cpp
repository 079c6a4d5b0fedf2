// Self-tests: one probe agent per (type, host) with no data.
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

void SelfTest::on_agent_running(Agent& agent) {
  // It said OK and got "no data": it must now exit cleanly within the startup timeout.
  for (auto& p : probes_) {
    if (p.agent.get() != &agent) continue;
    Agent* a = &agent;
    p.exit_timer = Source::timer(config_->startup_timeout, [a, ms = config_->startup_timeout] {
      a->kill_now(fmt::format("did not exit within {} ms after the end of data", ms.count()));
    });
  }
}

void SelfTest::on_agent_db(Agent& agent, const std::string&) {
  agent.reply_db({}, "not permitted during the self-test");
}

void SelfTest::on_agent_exit(Agent& agent, const AgentOutcome& outcome) {
  for (auto& p : probes_) {
    if (p.agent.get() != &agent) continue;
    results_[p.result].passed = outcome.success;
    results_[p.result].reason = outcome.reason;
    p.exit_timer.reset();
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
