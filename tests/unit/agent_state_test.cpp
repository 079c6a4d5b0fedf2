// The agent lifecycle's transition function (scheduler/agent.hpp), driven without processes.
#include <gtest/gtest.h>

#include "agent.hpp"

namespace {

using sched::AgentEvent;
using sched::AgentState;
using sched::next_state;

struct Case {
  AgentState from;
  AgentEvent event;
  std::optional<AgentState> to;
};

TEST(AgentState, EveryTransitionOfTheLifecycle) {
  const Case cases[] = {
      {AgentState::Created, AgentEvent::Spawn, AgentState::Spawned},
      {AgentState::Spawned, AgentEvent::FirstOk, AgentState::Running},
      {AgentState::Running, AgentEvent::NoMoreData, AgentState::Draining},
      {AgentState::Running, AgentEvent::Pause, AgentState::Paused},
      {AgentState::Spawned, AgentEvent::Pause, AgentState::Paused},
      {AgentState::Paused, AgentEvent::Resume, AgentState::Running},
      {AgentState::Running, AgentEvent::Fail, AgentState::Failed},
      {AgentState::Spawned, AgentEvent::Fail, AgentState::Failed},
      {AgentState::Paused, AgentEvent::Fail, AgentState::Failed},
      {AgentState::Draining, AgentEvent::Fail, AgentState::Failed},
      {AgentState::Draining, AgentEvent::Exit, AgentState::Gone},
      {AgentState::Failed, AgentEvent::Exit, AgentState::Gone},
      {AgentState::Running, AgentEvent::Exit, AgentState::Gone},
      // Events that do not apply are refused.
      {AgentState::Created, AgentEvent::FirstOk, std::nullopt},
      {AgentState::Running, AgentEvent::FirstOk, std::nullopt},
      {AgentState::Running, AgentEvent::Resume, std::nullopt},
      {AgentState::Draining, AgentEvent::Pause, std::nullopt},
      {AgentState::Draining, AgentEvent::NoMoreData, std::nullopt},
      {AgentState::Failed, AgentEvent::Fail, std::nullopt},
      {AgentState::Failed, AgentEvent::Resume, std::nullopt},
      {AgentState::Gone, AgentEvent::Exit, std::nullopt},
      {AgentState::Gone, AgentEvent::Spawn, std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << sched::state_name(c.from) << " + event " << static_cast<int>(c.event));
    EXPECT_EQ(next_state(c.from, c.event), c.to);
  }
}

TEST(AgentState, FailureIsReachableFromEveryLiveState) {
  for (auto s : {AgentState::Created, AgentState::Spawned, AgentState::Running, AgentState::Paused,
                 AgentState::Draining}) {
    EXPECT_EQ(next_state(s, AgentEvent::Fail), AgentState::Failed) << sched::state_name(s);
    EXPECT_EQ(next_state(s, AgentEvent::Exit), AgentState::Gone) << sched::state_name(s);
  }
}

TEST(AgentState, NamesFollowFossology) {
  EXPECT_EQ(sched::state_name(AgentState::Running), "AGENT_RUNNING");
  EXPECT_EQ(sched::state_name(AgentState::Draining), "AGENT_PAUSED");
  EXPECT_EQ(sched::state_name(AgentState::Paused), "AGENT_PAUSED");
  EXPECT_EQ(sched::state_name(AgentState::Failed), "AGENT_FAILED");
}

}  // namespace
