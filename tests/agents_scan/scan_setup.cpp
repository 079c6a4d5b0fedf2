// ScanSetup (scan_setup.hpp).
#include "scan_setup.hpp"

#include <glib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "copyright_detect.hpp"
#include "license_detect.hpp"
#include "magic_cookie.hpp"
#include "scanner.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace scantest {
namespace {

std::string checksum(GChecksumType type, const std::string& bytes) {
  gchar* s = g_compute_checksum_for_data(type, reinterpret_cast<const guchar*>(bytes.data()),
                                         bytes.size());
  std::string out(s);
  g_free(s);
  return out;
}

// The `[plugin]` group of a shipped conf, verbatim.
std::string plugin_group(const std::string& agent) {
  const std::string text =
      read_all(test::source_dir() + "/agents/" + agent + "/" + agent + ".conf");
  const auto at = text.find("[plugin]");
  return at == std::string::npos ? "" : text.substr(at);
}

test::SchedulerSettings settings(int max) {
  test::SchedulerSettings s;
  s.startup_timeout = 20;
  s.heartbeat_timeout = 60;
  s.kill_grace = 1;
  s.hosts[0].agentdir = test::build_dir() + "/agents";
  s.hosts[0].max = max;
  return s;
}

}  // namespace

const std::vector<std::string> kAgents = {"copyright", "license", "mimetype"};

std::string corpus() {
  return test::source_dir() + "/tests/data/scan";
}

std::string read_all(const std::string& path) {
  return scanner::read_file(path, scanner::max_scan_bytes);
}

std::size_t line_of(const std::string& bytes, long long offset) {
  return static_cast<std::size_t>(
             std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(offset), '\n')) +
         1;
}

std::vector<File> corpus_files() {
  std::vector<File> files;
  for (const auto& e : fs::directory_iterator(corpus())) {
    const std::string n = e.path().filename().string();
    if (n != "expected.txt" && n != "README.md") files.push_back({n, read_all(e.path()), "", ""});
  }
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return files;
}

ScanSetup::ScanSetup(const std::string& cluster, int max)
    : h(settings(max), cluster.empty() ? test::cluster_conninfo() : cluster),
      db(h.db().conninfo()),
      repo(repo_dir.path()) {
  auto& agents = h.settings().agents;
  for (const auto& name : kAgents) {
    test::AgentConf a;
    a.name = name;
    a.command = name + " --repository=" + repo_dir.path() + " --db=\"" + h.db().conninfo() + "\"";
    a.extra = plugin_group(name);
    agents.push_back(a);
  }
  test::AgentConf unpack = test::fake_agent("unpack");  // the tests-only placeholder
  unpack.extra = "[plugin]\ntitle = unpack (placeholder)\nargs = $upload\n";
  agents.push_back(unpack);
  h.write_conf();
  h.start();
}

// A new upload holding `files` (written to the repository, pfile rows shared by content).
std::string ScanSetup::add_upload(std::vector<File>& files) {
  agent::Transaction tx(db);
  const std::string upload =
      db.exec("INSERT INTO upload (upload_filename) VALUES ('scan test') RETURNING upload_pk")
          .get(0, 0);
  for (File& f : files) {
    f.sha1 = checksum(G_CHECKSUM_SHA1, f.bytes);
    const std::string path = repo.path_of(f.sha1);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << f.bytes;
    f.pfile_pk = db.exec(
                       "INSERT INTO pfile (pfile_sha1, pfile_md5, pfile_size) VALUES ($1, $2, $3) "
                       "ON CONFLICT (pfile_sha1, pfile_md5, pfile_size) DO UPDATE SET "
                       "pfile_size = EXCLUDED.pfile_size RETURNING pfile_pk",
                       {f.sha1, checksum(G_CHECKSUM_MD5, f.bytes), std::to_string(f.bytes.size())})
                     .get(0, 0);
    db.exec("INSERT INTO uploadtree (upload_fk, pfile_fk, ufile_name) VALUES ($1, $2, $3)",
            {upload, f.pfile_pk, f.name});
  }
  tx.commit();
  return upload;
}

// `jobctl queue <agent> --upload N`; returns the agent's jq_pk.
long long ScanSetup::queue(const std::string& agent, const std::string& upload) {
  auto r = test::run({test::build_dir() + "/jobctl/jobctl", "-c", h.conf_dir(), "--db",
                      h.db().conninfo(), "--json", "queue", agent, "--upload", upload},
                     {}, 60s);
  if (r.exit_code() != 0) throw std::runtime_error("jobctl queue failed: " + r.output);
  const auto doc = nlohmann::json::parse(r.output);
  for (const auto& s : doc.at("steps"))
    if (s.at("agent") == agent) return s.at("jq").get<long long>();
  throw std::runtime_error("jobctl queue: no step for " + agent + ": " + r.output);
}

long long ScanSetup::count(const std::string& sql) {
  return std::stoll(db.exec(sql).get(0, 0));
}

// The result rows of `agent` ("" = all three), as text, for comparing runs.
std::multiset<std::string> ScanSetup::results(const std::string& agent) {
  std::multiset<std::string> out;
  const std::map<std::string, std::string> queries = {
      {"license",
       "SELECT 'license', pfile_fk, rf_shortname, fl_start_byte, fl_end_byte, rf_match_pct "
       "FROM license_file JOIN license_ref ON rf_pk = rf_fk"},
      {"copyright",
       "SELECT 'copyright', pfile_fk, type, copy_startbyte, copy_endbyte, content, "
       "coalesce(holder, ''), hash = md5(content) FROM copyright"},
      {"mimetype",
       "SELECT 'mimetype', pfile_pk, mimetype_name FROM pfile JOIN mimetype ON "
       "mimetype_pk = pfile_mimetypefk"}};
  for (const auto& [name, q] : queries) {
    if (!agent.empty() && name != agent) continue;
    const agent::Result r = db.exec(q);
    for (int i = 0; i < r.rows(); ++i) {
      std::string row;
      for (int c = 0; c < r.cols(); ++c) row += r.get(i, c) + "|";
      out.insert(row);
    }
  }
  return out;
}

// What one clean run of `agent` ("" = all three) must write for `files`, in results()'
// format (from the detectors and libmagic, which detect_test checks against expected.txt).
std::multiset<std::string> ScanSetup::clean_results(const std::vector<File>& files,
                                                    const std::string& agent) {
  std::multiset<std::string> out;
  std::set<std::string> seen;
  mimetype::MagicCookie magic;
  auto wanted = [&](const char* name) { return agent.empty() || agent == name; };
  for (const File& f : files) {
    if (!seen.insert(f.pfile_pk).second) continue;
    if (wanted("license"))
      for (const auto& m : license::detect(f.bytes).matches)
        out.insert("license|" + f.pfile_pk + "|" + m.id + "|" + std::to_string(m.start) + "|" +
                   std::to_string(m.end) + "|100|");
    if (wanted("copyright"))
      for (const auto& c : copyright::detect(f.bytes))
        out.insert("copyright|" + f.pfile_pk + "|" + std::string(copyright::kind_name(c.kind)) +
                   "|" + std::to_string(c.start) + "|" + std::to_string(c.end) + "|" +
                   scanner::to_text(c.content) + "|" + scanner::to_text(c.holder) + "|t|");
    if (wanted("mimetype"))
      out.insert("mimetype|" + f.pfile_pk + "|" + magic.type_of(repo.path_of(f.sha1)) + "|");
  }
  return out;
}

}  // namespace scantest
