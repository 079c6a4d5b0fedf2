// Agent plugins (common/plugin.hpp): the [plugin] group loaded with the agent confs, its
// errors with file:line and what is expected, dependency chains and cycles left out with the
// chain named, templates expanded, the pipeline ordered dependencies first.
#include "plugin.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "conf_dir.hpp"

namespace {

using test::ConfDir;

std::string agent_conf(const std::string& plugin) {
  return "[default]\ncommand = x\n\n[plugin]\n" + plugin;
}

bool has_warning(const sched::Config& c, const std::string& text) {
  return std::any_of(c.warnings.begin(), c.warnings.end(),
                     [&](const std::string& w) { return w == text; });
}

TEST(Plugin, LoadsEveryKey) {
  ConfDir d;
  d.write("agents/unpack.conf", agent_conf("title = Unpack\nargs = $upload\ndefault = true\n"));
  d.write("agents/license.conf",
          agent_conf("title = License scanner\ndepends = unpack\nsql = SELECT pfile_sha1 FROM t "
                     "WHERE u = $upload AND a <> $agent_pk\nrunonpfile = pfile_sha1\n"
                     "default = yes\npriority = -2\n"));
  d.write("agents/manual.conf", "[default]\ncommand = x\n");
  auto c = d.load();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  const auto& lic = *c.agent("license")->plugin;
  EXPECT_EQ(lic.title, "License scanner");
  EXPECT_EQ(lic.depends, std::vector<std::string>{"unpack"});
  EXPECT_TRUE(lic.sql);
  EXPECT_EQ(lic.runonpfile, "pfile_sha1");
  EXPECT_TRUE(lic.default_pipeline);
  EXPECT_EQ(lic.priority, -2);
  EXPECT_EQ(lic.where, d.path("agents/license.conf") + ":4");
  EXPECT_FALSE(c.agent("unpack")->plugin->sql);
  EXPECT_FALSE(c.agent("manual")->plugin.has_value());
}

TEST(Plugin, ErrorsNameFileLineKeyAndWhatIsExpected) {
  struct Case {
    std::string plugin, error;
  };
  const std::vector<Case> cases = {
      {"args = 1\n",
       ":4: [plugin] title: missing; expected a title shown to people, e.g. "
       "'License scanner'"},
      {"title = t\nargs = 1\nsql = SELECT 1\nrunonpfile = c\n",
       ":7: [plugin] sql: given together with args; expected either 'args = <jq_args template>' "
       "or 'sql = <query>' with 'runonpfile'"},
      {"title = t\nsql = SELECT 1\n",
       ":4: [plugin] runonpfile: missing for an SQL plugin; "
       "expected the column of the query that routes rows"},
      {"title = t\nargs = 1\nrunonpfile = c\n",
       ":7: [plugin] runonpfile: given without sql; expected either 'args = <jq_args template>' "
       "or 'sql = <query>' with 'runonpfile'"},
      {"title = t\nargs = $upload $agent_pk\n",
       ":6: [plugin] args: unknown variable '$agent_pk'; expected only $upload and $job"},
      {"title = t\nsql = SELECT $uplaod\nrunonpfile = c\n",
       ":6: [plugin] sql: unknown variable '$uplaod'; expected only $upload, $job and $agent_pk"},
      {"title = t\nargs = 1\ndefault = maybe\n",
       ":7: [plugin] default: 'maybe' is not a boolean; expected true or false"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.plugin);
    ConfDir d;
    d.write("agents/a.conf", agent_conf(k.plugin));
    auto c = d.load();
    EXPECT_EQ(c.agent("a"), nullptr);
    EXPECT_TRUE(has_warning(c, d.path("agents/a.conf") + k.error + "; agent type 'a' left out"))
        << (c.warnings.empty() ? "" : c.warnings.front());
  }
}

TEST(Plugin, UnknownDependenciesAndCyclesAreLeftOutNamingTheChain) {
  ConfDir d;
  d.write("agents/a.conf", agent_conf("title = A\nargs = 1\ndepends = b\n"));
  d.write("agents/b.conf", agent_conf("title = B\nargs = 1\ndepends = c\n"));
  d.write("agents/c.conf", agent_conf("title = C\nargs = 1\ndepends = a\n"));
  d.write("agents/d.conf", agent_conf("title = D\nargs = 1\ndepends = nope\n"));
  d.write("agents/e.conf", agent_conf("title = E\nargs = 1\ndepends = d\n"));
  d.write("agents/f.conf", agent_conf("title = F\nargs = 1\n"));
  auto c = d.load();
  EXPECT_TRUE(has_warning(c, d.path("agents/a.conf") +
                                 ":4: [plugin] depends: dependency cycle a -> b -> c -> a; "
                                 "expected no cycle; plugin of 'a' left out"));
  EXPECT_TRUE(has_warning(c, d.path("agents/d.conf") +
                                 ":4: [plugin] depends: depends on 'nope', which is not an agent "
                                 "with a [plugin] group (d -> nope); expected agents that have a "
                                 "[plugin] group; plugin of 'd' left out"));
  // e needs d, whose plugin is gone: left out too, naming its chain.
  EXPECT_TRUE(has_warning(c, d.path("agents/e.conf") +
                                 ":4: [plugin] depends: depends on 'd', which is not an agent "
                                 "with a [plugin] group (e -> d); expected agents that have a "
                                 "[plugin] group; plugin of 'e' left out"));
  for (const char* gone : {"a", "b", "c", "d", "e"}) {
    ASSERT_NE(c.agent(gone), nullptr) << gone;  // the agent types themselves still run
    EXPECT_FALSE(c.agent(gone)->plugin) << gone;
  }
  EXPECT_TRUE(c.agent("f")->plugin);
}

TEST(Plugin, TemplatesExpandUploadAndJobAndKeepAgentPk) {
  sched::Plugin p;
  p.sql = true;
  p.args =
      "SELECT * FROM t WHERE upload = $upload AND job = $job AND agent <> $agent_pk "
      "AND x = '$uploads' AND $1 = 2";
  EXPECT_EQ(sched::expand(p, {42, 7}),
            "SELECT * FROM t WHERE upload = 42 AND job = 7 AND agent <> $agent_pk "
            "AND x = '$uploads' AND $1 = 2");
  EXPECT_EQ(sched::unknown_variable(p.args, true), "$uploads");
}

TEST(Plugin, PipelineOrderPutsDependenciesFirstOnce) {
  ConfDir d;
  d.write("agents/unpack.conf", agent_conf("title = U\nargs = $upload\n"));
  d.write("agents/mime.conf", agent_conf("title = M\nargs = 1\ndepends = unpack\n"));
  d.write("agents/lic.conf", agent_conf("title = L\nargs = 1\ndepends = unpack;mime\n"));
  auto c = d.load();
  EXPECT_EQ(sched::pipeline_order(c.agents, {"lic", "mime"}),
            (std::vector<std::string>{"unpack", "mime", "lic"}));
}

}  // namespace
