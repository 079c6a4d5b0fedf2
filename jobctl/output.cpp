// Table (output.hpp): aligned text or JSON.
#include "output.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace jobctl {

std::string cell_text(const Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_float()) return fmt::format("{:.1f}", value.get<double>());
  return value.dump();
}

std::string duration_text(double seconds) {
  if (seconds < 0) seconds = 0;
  auto whole = static_cast<long long>(seconds);
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

Json Table::json() const {
  Json out = Json::array();
  for (const auto& row : rows_) {
    Json obj = Json::object();
    for (std::size_t i = 0; i < columns_.size() && i < row.size(); ++i) obj[columns_[i]] = row[i];
    out.push_back(std::move(obj));
  }
  return out;
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(columns_.size());
  std::vector<std::vector<std::string>> text;
  for (std::size_t i = 0; i < columns_.size(); ++i) width[i] = columns_[i].size();
  for (const auto& row : rows_) {
    auto& line = text.emplace_back();
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      line.push_back(i < row.size() ? cell_text(row[i]) : "");
      width[i] = std::max(width[i], line.back().size());
    }
  }
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << line << "\n";
  };
  std::vector<std::string> header(columns_.begin(), columns_.end());
  std::transform(header.begin(), header.end(), header.begin(), [](std::string h) {
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return h;
  });
  emit(header);
  for (const auto& line : text) emit(line);
}

void Table::print(std::ostream& out, bool as_json) const {
  if (as_json)
    out << json().dump(2) << "\n";
  else
    print(out);
}

}  // namespace jobctl
