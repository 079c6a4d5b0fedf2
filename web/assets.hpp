// The page's static files (web/assets/), compiled into the program by embed_assets.cmake.
#pragma once

#include <string_view>

namespace web {

struct Asset {
  std::string_view name;          // "app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The asset called `name`, or nullptr.
const Asset* asset(std::string_view name);

}  // namespace web
