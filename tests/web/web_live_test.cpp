// jobline-web never waits on its loop: progress comes from the database's NOTIFY on
// jobline_progress (migration 008) with no periodic re-read, and the control interface is used
// asynchronously, so that a scheduler that does not answer (here a fake one: a real listening
// Unix socket at the control socket's path that accepts and stays silent) delays only the
// request that needs it; an upload is queued in a worker thread, so a transaction waiting for
// a lock stalls nothing else either. Real PostgreSQL, scheduler and jobline-web over HTTP.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "private_cluster.hpp"
#include "web_client.hpp"

namespace {

using namespace std::chrono_literals;
using webtest::get;
using webtest::post;
using webtest::WebServer;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// A fake scheduler on the control socket: it accepts connections and answers only when told.
class SilentScheduler {
 public:
  explicit SilentScheduler(const std::string& path) {
    ::unlink(path.c_str());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
  }
  ~SilentScheduler() {
    for (int c : accepted_) ::close(c);
    ::close(fd_);
  }
  SilentScheduler(const SilentScheduler&) = delete;
  SilentScheduler& operator=(const SilentScheduler&) = delete;

  // Accepts the next connection within `timeout`; returns it (-1 on timeout). It stays open.
  int accept_one(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) accepted_.push_back(c);
    return c;
  }
  // Reads one command line from connection `c` (at most 1 KiB, within 10 s).
  static std::string read_line(int c) {
    std::string line;
    char ch = 0;
    while (line.size() < 1024) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0 || ::read(c, &ch, 1) != 1 || ch == '\n') break;
      line += ch;
    }
    return line;
  }
  static void answer(int c, const std::string& text) {
    EXPECT_EQ(::write(c, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }

 private:
  int fd_ = -1;
  std::vector<int> accepted_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string one_step_job(WebServer& w, const std::string& type) {
  return w.db().query("SELECT queue_step(queue_job('live'), '" + type + "', 'x')");
}

TEST(WebLive, ProgressComesFromNotifyAndNothingIsSentPeriodically) {
  WebServer w;
  w.start_web();
  std::string jq = one_step_job(w, "hang");  // runs and reports nothing by itself
  ASSERT_TRUE(w.harness().wait_started(std::stoll(jq)));
  webtest::EventClient events(w.port());
  std::string stream;
  // The running step is read once when the stream opens.
  ASSERT_TRUE(events.wait_for("\"jq\":" + jq + ",", 10s, &stream)) << stream;
  // What the scheduler writes when an agent reports items (flush_items).
  w.db().query("UPDATE jobqueue SET jq_itemsprocessed = 4242 WHERE jq_pk = " + jq);
  ASSERT_TRUE(events.wait_for("\"items\":\"4242\"", 10s, &stream)) << stream;
  w.db().query("UPDATE jobqueue SET jq_itemsknown = 9000 WHERE jq_pk = " + jq);
  ASSERT_TRUE(events.wait_for("\"items\":\"4242/9000\"", 10s, &stream)) << stream;
  // Nothing changes in the database now: no step event follows, although the step's duration
  // and rate move on every second (a periodic read would send it again within 1 s).
  std::size_t sent = count(stream, "event: step");
  EXPECT_FALSE(events.wait_for("never sent", 2500ms, &stream));
  EXPECT_EQ(count(stream, "event: step"), sent) << stream;
  // An UPDATE that does not change the items sends nothing either.
  w.db().query("UPDATE jobqueue SET jq_itemsprocessed = 4242 WHERE jq_pk = " + jq);
  w.db().query("UPDATE jobqueue SET jq_itemsprocessed = 4243 WHERE jq_pk = " + jq);
  ASSERT_TRUE(events.wait_for("\"items\":\"4243/9000\"", 10s, &stream)) << stream;
  EXPECT_EQ(count(stream, "event: step"), sent + 1) << stream;
}

// A step's start and its pause come by NOTIFY too (nothing reads the running steps later). The
// scheduler is stopped while the step is queued, so that the page sees it queued first.
TEST(WebLive, StartAndPauseComeFromNotify) {
  WebServer w;
  w.start_web();
  // A page read from the database: the connection is up, so its LISTENs (sent first on every
  // connection) are in place before the step below is queued.
  ASSERT_EQ(get(w.port(), "/jobs").status, 200);
  webtest::EventClient events(w.port());
  std::string stream;
  ASSERT_TRUE(events.wait_for("retry:", 10s, &stream)) << stream;
  w.harness().stop();
  std::string jq = one_step_job(w, "hang");
  ASSERT_TRUE(events.wait_for("\"jq\":" + jq + ",", 10s, &stream)) << stream;
  EXPECT_TRUE(contains(stream, "\"state\":\"queued\"")) << stream;
  w.harness().start();
  ASSERT_TRUE(w.harness().wait_started(std::stoll(jq)));
  EXPECT_TRUE(events.wait_for("\"state\":\"running\"", 10s, &stream)) << stream;
  w.harness().control("pause " + jq);
  EXPECT_TRUE(events.wait_for("\"state\":\"paused\"", 10s, &stream)) << stream;
}

// The fake scheduler answers the action only after another page was served: a loop that
// waited for the scheduler could not serve that page first.
TEST(WebLive, APageIsServedWhileAnActionWaitsForTheScheduler) {
  WebServer w;
  w.start_web();
  std::string csrf = w.csrf();
  w.harness().stop();
  SilentScheduler fake(w.harness().conf_dir() + "/scheduler.sock");
  webtest::Response action;
  std::atomic<bool> action_done{false};
  std::thread t([&] {
    action = post(w.port(), "/action", "csrf=" + csrf + "&job=5&jq=7&op=pause");
    action_done = true;
  });
  int c = fake.accept_one(10s);
  ASSERT_GE(c, 0) << "jobline-web did not connect to the control socket";
  EXPECT_EQ(SilentScheduler::read_line(c), "pause 7");
  auto jobs = get(w.port(), "/jobs");
  EXPECT_EQ(jobs.status, 200);
  EXPECT_FALSE(action_done) << "the action was answered before the scheduler answered it";
  SilentScheduler::answer(c, "received\nend\n");
  t.join();
  EXPECT_EQ(action.status, 303) << action.head << action.body;
  EXPECT_TRUE(action.header("Location").ends_with("/job/5")) << action.head;
}

// After a database outage jobline-web tells every stream to read its page again (changes
// meanwhile came with no NOTIFY), then follows the NOTIFYs as before.
TEST(WebLive, AStreamIsToldToResyncWhenTheDatabaseComesBack) {
  test::PrivateCluster cluster;
  WebServer w("", cluster.conninfo());
  w.start_web();
  ASSERT_EQ(get(w.port(), "/jobs").status, 200);
  w.harness().stop();
  webtest::EventClient events(w.port());
  std::string stream;
  ASSERT_TRUE(events.wait_for("retry:", 10s, &stream)) << stream;
  cluster.restart();
  ASSERT_TRUE(events.wait_for("event: resync", 30s, &stream)) << stream;
  std::string jq = one_step_job(w, "hang");
  EXPECT_TRUE(events.wait_for("\"jq\":" + jq + ",", 10s, &stream)) << stream;
}

// Queueing an upload runs in a worker thread: while its transaction waits for a lock, pages
// are served; once the lock goes, the upload is queued and answered.
TEST(WebLive, APageIsServedWhileAnUploadWaitsForTheDatabase) {
  WebServer w;
  w.start_web();
  std::string csrf = w.csrf();
  std::filesystem::create_directories(w.root() + "/src");
  PGconn* locker = PQconnectdb(w.db().conninfo().c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK) << PQerrorMessage(locker);
  PQclear(PQexec(locker, "BEGIN; LOCK TABLE upload IN EXCLUSIVE MODE"));
  webtest::Response upload;
  std::atomic<bool> upload_done{false};
  std::thread t([&] {
    upload =
        post(w.port(), "/upload",
             "csrf=" + csrf + "&path=" + webtest::url_encode(w.root() + "/src") + "&agent=scan");
    upload_done = true;
  });
  // The upload's INSERT waits for the lock.
  ASSERT_TRUE(test::eventually([&] {
    return w.db().query(
               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
               "'INSERT INTO upload%' AND wait_event_type = 'Lock'") == "1";
  }));
  auto jobs = get(w.port(), "/jobs");
  EXPECT_EQ(jobs.status, 200);
  EXPECT_FALSE(upload_done) << "the upload was answered while its transaction waited";
  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  t.join();
  EXPECT_EQ(upload.status, 303) << upload.head << upload.body;
  EXPECT_TRUE(contains(upload.header("Location"), "/job/")) << upload.head;
  EXPECT_EQ(w.db().query("SELECT count(*) FROM jobqueue"), "2");  // unpack, scan
}

// A scheduler that never answers: the action, /metrics and /agents say so after the timeout;
// meanwhile other pages and the event stream are served.
TEST(WebLive, ASilentSchedulerGivesClearErrorsAfterTheTimeoutAndStallsNothingElse) {
  WebServer w;
  w.start_web();
  std::string csrf = w.csrf();
  w.harness().stop();
  const std::string sock = w.harness().conf_dir() + "/scheduler.sock";
  SilentScheduler fake(sock);
  webtest::Response action, metrics, agents;
  std::atomic<int> done{0};
  std::thread ta([&] {
    action = post(w.port(), "/action", "csrf=" + csrf + "&job=5&jq=7&op=kill");
    ++done;
  });
  std::thread tm([&] {
    metrics = get(w.port(), "/metrics");
    ++done;
  });
  std::thread tg([&] {
    agents = get(w.port(), "/agents");
    ++done;
  });
  for (int i = 0; i < 3; ++i) ASSERT_GE(fake.accept_one(10s), 0) << "connection " << i;
  // All three wait for the scheduler now; the loop serves the rest.
  auto jobs = get(w.port(), "/jobs");
  EXPECT_EQ(jobs.status, 200);
  webtest::EventClient events(w.port());
  std::string stream;
  EXPECT_TRUE(events.wait_for("retry:", 10s, &stream)) << stream;
  EXPECT_EQ(done, 0) << "a control call ended before the pages were served";
  ta.join();
  tm.join();
  tg.join();
  const std::string why = "unix:" + sock + ": no reply within 3 s";
  EXPECT_EQ(action.status, 503) << action.head;
  EXPECT_TRUE(contains(action.body, "the scheduler cannot be reached: " + why)) << action.body;
  EXPECT_EQ(metrics.status, 200) << metrics.head;
  EXPECT_TRUE(contains(metrics.body, "# jobline_scheduler_up 0: " + why + "\n")) << metrics.body;
  EXPECT_TRUE(contains(metrics.body, "\njobline_scheduler_up 0\n")) << metrics.body;
  EXPECT_EQ(agents.status, 200) << agents.head;
  EXPECT_TRUE(contains(agents.body, "The scheduler cannot be reached: " + why)) << agents.body;
}

// No scheduler at all: the error names both places tried, at once.
TEST(WebLive, NoSchedulerNamesThePlacesTried) {
  WebServer w;
  w.start_web();
  std::string csrf = w.csrf();
  w.harness().stop();
  auto r = post(w.port(), "/action", "csrf=" + csrf + "&job=5&jq=7&op=pause");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(contains(
      r.body, "cannot reach the scheduler (socket " + w.harness().conf_dir() + "/scheduler.sock: "))
      << r.body;
  EXPECT_TRUE(contains(r.body, "; 127.0.0.1:" + std::to_string(w.harness().port()) + ": "))
      << r.body;
}

// Without the socket, jobline-web uses TCP and sends the auth token first (as jobctl does); a
// wrong token is named in the error.
TEST(WebLive, OverTcpTheAuthTokenIsSentFirst) {
  WebServer w;
  auto& h = w.harness();
  h.stop();
  h.settings().extra_scheduler = "auth_token = tok-123\n" + h.settings().extra_scheduler;
  h.write_conf();
  h.start();
  h.control("load");  // it listens now
  // jobline-web's view: the socket is somewhere nobody listens.
  const std::string conf = h.conf_dir() + "/scheduler.conf";
  const std::string text = slurp(conf);
  const std::string socket_line = "socket = " + h.conf_dir() + "/scheduler.sock\n";
  ASSERT_TRUE(contains(text, socket_line)) << text;
  std::string web_text = text;
  web_text.replace(web_text.find(socket_line), socket_line.size(),
                   "socket = " + h.conf_dir() + "/absent.sock\n");
  spit(conf, web_text);
  w.start_web();
  // (The scheduler's self-test may still be running at first: then its agents say failed.)
  webtest::Response a;
  EXPECT_TRUE(test::eventually(
      [&] {
        a = get(w.port(), "/agents");
        return contains(a.body, ">passed<");
      },
      10s))
      << a.body;
  EXPECT_FALSE(contains(a.body, "cannot be reached")) << a.body;
  // The same with a wrong token.
  std::string wrong = web_text;
  wrong.replace(wrong.find("auth_token = tok-123"), 20, "auth_token = tok-999");
  spit(conf, wrong);
  w.start_web();
  auto b = get(w.port(), "/agents");
  EXPECT_TRUE(contains(
      b.body, "The scheduler cannot be reached: tcp:127.0.0.1:" + std::to_string(h.port()) +
                  ": ERROR: authentication failed: wrong token"))
      << b.body;
}

}  // namespace
