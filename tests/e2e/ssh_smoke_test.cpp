// Smoke test of the `sshd` fixture (tests/fixtures/sshd.sh): the client command line logs in
// to 127.0.0.1 without prompts, and a remote command does not outlive a killed ssh client.
// What later remote-host tests rely on, and the caveat they must respect: without a pty,
// sshd does not signal the remote command when the connection drops; the command only sees
// EOF on its stdin (and EPIPE on stdout). With a pty (-tt) it gets SIGHUP.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using namespace std::chrono_literals;

// The fixture's command line split on spaces (it holds no quoted words) + extra words.
std::vector<std::string> ssh_argv(const std::vector<std::string>& extra) {
  std::vector<std::string> argv;
  std::istringstream in(test::ssh_command());
  for (std::string word; in >> word;) argv.push_back(word);
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::string cmdline_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return s;
}

// Reads lines until one starts with "pid=" and returns the number (the pty adds '\r').
pid_t read_remote_pid(test::Child& ssh) {
  for (;;) {
    auto line = ssh.read_line(20s);
    if (!line) return -1;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line->rfind("pid=", 0) == 0) return static_cast<pid_t>(std::stol(line->substr(4)));
  }
}

TEST(SshSmoke, EchoHiRunsRemotely) {
  auto r = test::run(ssh_argv({"127.0.0.1", "echo", "hi"}), {}, 30s);
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(r.output, "hi\n");
}

TEST(SshSmoke, RemoteExitCodeComesBack) {
  auto r = test::run(ssh_argv({"127.0.0.1", "exit 7"}), {}, 30s);
  EXPECT_EQ(r.exit_code(), 7) << r.output;
}

TEST(SshSmoke, StdinPipeReachesTheRemoteCommand) {
  test::Child ssh(ssh_argv({"127.0.0.1", "cat"}));
  ssh.write("line one\nline two\n");
  EXPECT_EQ(ssh.read_line(20s), "line one");
  EXPECT_EQ(ssh.read_line(20s), "line two");
  ssh.close_stdin();
  EXPECT_EQ(ssh.read_line(20s), std::nullopt);
  auto status = ssh.wait(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

// With a pty forced (-tt, stdin still a pipe), sshd hangs up the remote session when the
// client's connection drops: a plain `sleep 1000` dies of SIGHUP.
TEST(SshSmoke, KilledClientEndsRemoteSleepWithPty) {
  test::Child ssh(ssh_argv({"-tt", "127.0.0.1", "echo pid=$$; exec sleep 1000"}));
  pid_t remote = read_remote_pid(ssh);
  ASSERT_GT(remote, 0);
  ASSERT_TRUE(test::eventually(
      [&] { return cmdline_of(remote).find("sleep 1000") != std::string::npos; }, 10s))
      << "remote pid " << remote << " runs '" << cmdline_of(remote) << "'";

  ssh.signal(SIGKILL);  // the local client only, not its group
  ASSERT_TRUE(ssh.wait(10s).has_value());
  EXPECT_TRUE(test::eventually([&] { return !process_exists(remote); }, 20s))
      << "remote sleep " << remote << " outlived the ssh client";
  if (process_exists(remote)) ::kill(remote, SIGKILL);
}

// Without a pty the remote command gets no signal, only EOF on stdin: a remote command that
// watches its stdin (as libagent agents do) ends its work. Here the watcher is `cat`.
TEST(SshSmoke, KilledClientGivesRemoteStdinEofWithoutPty) {
  test::Child ssh(
      ssh_argv({"127.0.0.1", "sleep 1000 & echo pid=$!; cat >/dev/null; kill $!; wait"}));
  pid_t remote = read_remote_pid(ssh);
  ASSERT_GT(remote, 0);
  ASSERT_TRUE(test::eventually([&] { return process_exists(remote); }, 10s));

  ssh.signal(SIGKILL);
  ASSERT_TRUE(ssh.wait(10s).has_value());
  EXPECT_TRUE(test::eventually([&] { return !process_exists(remote); }, 20s))
      << "remote sleep " << remote << " outlived the ssh client";
  if (process_exists(remote)) ::kill(remote, SIGKILL);
}

}  // namespace
