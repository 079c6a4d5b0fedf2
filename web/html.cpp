// HTML escaping and the page frame; see html.hpp.
#include "html.hpp"

#include <fmt/format.h>

#include <cmath>

namespace web {

std::string esc(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string page_begin(std::string_view title, std::string_view active, std::string_view live) {
  static constexpr std::pair<std::string_view, std::string_view> kNav[] = {
      {"/jobs", "Jobs"},
      {"/agents", "Agents and hosts"},
      {"/upload", "Upload"},
      {"/metrics", "Metrics"}};
  std::string nav;
  for (const auto& [href, label] : kNav)
    nav += fmt::format("<a href=\"{}\"{}>{}</a>", href, href == active ? " class=\"active\"" : "",
                       label);
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>{} - jobline</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
      "<script src=\"/static/app.js\" defer></script></head>\n"
      "<body data-live=\"{}\"><header><strong>jobline</strong><nav>{}</nav></header><main>\n"
      "<h1>{}</h1>\n",
      esc(title), esc(live), nav, esc(title));
}

std::string page_end() {
  return "</main></body></html>\n";
}

std::string duration_text(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "-";
  auto t = static_cast<long long>(s);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

}  // namespace web
