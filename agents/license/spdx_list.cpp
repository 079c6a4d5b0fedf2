// SpdxList (spdx_list.hpp): the embedded JSON arrays, parsed with nlohmann-json.
#include "spdx_list.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "spdx_data.hpp"

namespace license {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void load(std::string_view json, std::string_view what,
          std::unordered_map<std::string, std::string>& into) {
  const auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!doc.is_array()) throw std::runtime_error(std::string(what) + ": not a JSON array");
  for (const auto& v : doc) {
    if (!v.is_string())
      throw std::runtime_error(std::string(what) + ": an element is not a string");
    const auto& id = v.get_ref<const std::string&>();
    into.emplace(lower(id), id);
  }
}

std::optional<std::string> find(const std::unordered_map<std::string, std::string>& m,
                                std::string_view id) {
  auto it = m.find(lower(id));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

}  // namespace

SpdxList::SpdxList(std::string_view licenses_json, std::string_view deprecated_json,
                   std::string_view exceptions_json) {
  load(licenses_json, "spdx-license-ids/index.json", licenses_);
  load(deprecated_json, "spdx-license-ids/deprecated.json", deprecated_);
  load(exceptions_json, "spdx-exceptions/index.json", exceptions_);
}

const SpdxList& SpdxList::builtin() {
  static const SpdxList list(data::license_ids, data::deprecated_ids, data::exception_ids);
  return list;
}

std::optional<std::string> SpdxList::license(std::string_view id) const {
  return find(licenses_, id);
}
std::optional<std::string> SpdxList::deprecated(std::string_view id) const {
  return find(deprecated_, id);
}
std::optional<std::string> SpdxList::exception(std::string_view id) const {
  return find(exceptions_, id);
}

}  // namespace license
