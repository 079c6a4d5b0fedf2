// feed_replay: see feed_replay.hpp. The server log is PostgreSQL's stderr format with the
// default log_line_prefix '%m [%p] ': `2026-12-04 17:10:00.123 UTC [4242] LOG:  execute
// <unnamed>: FETCH ...`, continuation lines starting with a tab, and a `DETAIL:  parameters:
// $1 = '...', $2 = NULL` entry after a statement with parameters.
#include "feed_replay.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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

// A log line's head, "2026-12-04 19:00:00.123 UTC [12345] LOG:  message": the pid, the level
// and the message, or false. Parsed by hand: std::regex recurses once per character and
// overflows the stack on a statement of megabytes (the fed-row INSERTs).
bool parse_head(const std::string& line, Entry& e) {
  auto digits = [&](size_t from, size_t n) {
    if (line.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(line[i]))) return false;
    return true;
  };
  if (!digits(0, 4) || line[4] != '-' || !digits(5, 2) || line[7] != '-' || !digits(8, 2) ||
      line.size() < 11 || line[10] != ' ')
    return false;
  size_t open = line.find(" [", 11);
  if (open == std::string::npos) return false;
  size_t close = line.find("] ", open + 2);
  if (close == std::string::npos || close == open + 2 || !digits(open + 2, close - open - 2))
    return false;
  size_t colon = line.find(":  ", close + 2);
  if (colon == std::string::npos || colon == close + 2) return false;
  for (size_t i = close + 2; i < colon; ++i)
    if (line[i] < 'A' || line[i] > 'Z') return false;
  e.pid = line.substr(open + 2, close - open - 2);
  e.level = line.substr(close + 2, colon - close - 2);
  e.message = line.substr(colon + 3);
  return true;
}

std::vector<Entry> entries(const LogMark& mark) {
  std::ifstream in(mark.path);
  in.seekg(mark.offset);
  std::vector<Entry> out;
  for (std::string line; std::getline(in, line);) {
    Entry e;
    if (!line.empty() && line[0] == '\t' && !out.empty()) {
      out.back().message += "\n" + line.substr(1);
    } else if (parse_head(line, e)) {
      out.push_back(std::move(e));
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
  for (const auto& e : all) {
    if (e.pid != pid) continue;
    size_t colon = e.message.rfind("execute ", 0) == 0 ? e.message.find(": ") : std::string::npos;
    if (e.level == "LOG" && e.message.rfind("statement: ", 0) == 0) {
      out.push_back({e.message.substr(11), {}});
    } else if (e.level == "LOG" && colon != std::string::npos) {
      out.push_back({e.message.substr(colon + 2), {}});
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
