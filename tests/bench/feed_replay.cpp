// feed_replay: see feed_replay.hpp. The server log is PostgreSQL's stderr format with the
// default log_line_prefix '%m [%p] ': `2026-12-04 17:10:00.123 UTC [4242] LOG:  execute
// <unnamed>: FETCH ...`, continuation lines starting with a tab, and a `DETAIL:  parameters:
// $1 = '...', $2 = NULL` entry after a statement with parameters.
#include "feed_replay.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace {

struct Entry {
  std::string pid, level, message;
};

std::string server_log() {
  const char* state = std::getenv("JOBLINE_TEST_STATE");
  if (!state) throw std::runtime_error("JOBLINE_TEST_STATE is not set");
  std::ifstream base(std::string(state) + "/pg/base");
  std::string dir;
  if (!std::getline(base, dir)) throw std::runtime_error("the pg fixture is not up");
  return dir + "/server.log";
}

std::vector<Entry> entries(const LogMark& mark) {
  std::ifstream in(mark.path);
  in.seekg(mark.offset);
  static const std::regex head(R"(^\d{4}-\d\d-\d\d [0-9:.]+ \S+ \[(\d+)\] ([A-Z]+):  (.*)$)");
  std::vector<Entry> out;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '\t' && !out.empty()) {
      out.back().message += "\n" + line.substr(1);
    } else if (std::regex_match(line, m, head)) {
      out.push_back({m[1], m[2], m[3]});
    }
  }
  return out;
}

// `$1 = '...', $2 = NULL` (quotes doubled inside values).
std::vector<std::optional<std::string>> parameters(const std::string& text) {
  std::vector<std::optional<std::string>> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t eq = text.find(" = ", i);
    if (eq == std::string::npos) break;
    i = eq + 3;
    if (text.compare(i, 4, "NULL") == 0) {
      out.emplace_back(std::nullopt);
      i += 4;
    } else if (i < text.size() && text[i] == '\'') {
      std::string v;
      for (++i; i < text.size(); ++i) {
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            v += '\'';
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          v += text[i];
        }
      }
      out.emplace_back(std::move(v));
    } else {
      throw std::runtime_error("cannot read the logged parameters: " + text.substr(0, 80));
    }
    if (text.compare(i, 2, ", ") == 0) i += 2;
  }
  return out;
}

}  // namespace

LogMark log_mark() {
  LogMark m;
  m.path = server_log();
  m.offset = static_cast<long long>(std::filesystem::file_size(m.path));
  return m;
}

std::vector<Statement> feed_statements(const LogMark& mark) {
  auto all = entries(mark);
  std::string pid;
  for (const auto& e : all)
    if (e.level == "LOG" && e.message.find("DECLARE jobline_feed") != std::string::npos) {
      pid = e.pid;
      break;
    }
  if (pid.empty()) throw std::runtime_error("no DECLARE jobline_feed in " + mark.path);
  std::vector<Statement> out;
  static const std::regex execute(R"(^execute [^:]*: )");
  for (const auto& e : all) {
    if (e.pid != pid) continue;
    std::smatch m;
    if (e.level == "LOG" && e.message.rfind("statement: ", 0) == 0) {
      out.push_back({e.message.substr(11), {}});
    } else if (e.level == "LOG" && std::regex_search(e.message, m, execute)) {
      out.push_back({e.message.substr(static_cast<size_t>(m.length(0))), {}});
    } else if (e.level == "DETAIL" && e.message.rfind("parameters: ", 0) == 0 && !out.empty()) {
      out.back().params = parameters(e.message.substr(12));
    }
  }
  return out;
}

double replay(const std::string& conninfo, const std::vector<Statement>& statements) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("replay: cannot connect: " + msg);
  }
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& s : statements) {
    std::vector<const char*> values;
    for (const auto& p : s.params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* r = PQexecParams(c, s.text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      PQfinish(c);
      throw std::runtime_error("replay: " + s.text.substr(0, 60) + ": " + msg);
    }
    // Read every value, as the scheduler does when it feeds the rows.
    std::size_t bytes = 0;
    for (int row = 0; row < PQntuples(r); ++row)
      for (int col = 0; col < PQnfields(r); ++col)
        bytes += static_cast<std::size_t>(PQgetlength(r, row, col));
    (void)bytes;
    PQclear(r);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PQfinish(c);
  return s;
}
