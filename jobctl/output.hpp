// Output of jobctl's listings: a Table printed as aligned columns for people, or as one JSON
// document for scripts (--json: an array of objects whose keys are the column names,
// documented in docs/jobctl.md). Values keep their JSON types (numbers, null).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jobctl {

using Json = nlohmann::json;

class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void add(std::vector<Json> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  Json json() const;
  // Aligned columns with a header line; null shows as "-".
  void print(std::ostream& out) const;
  void print(std::ostream& out, bool as_json) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<Json>> rows_;
};

// A JSON value as a table cell.
std::string cell_text(const Json& value);

// "1h02m", "3m05s", "4.2s".
std::string duration_text(double seconds);

}  // namespace jobctl
