// The one place HTML is produced: escaping of every value that comes from the database, the
// file system, the configuration or the request, and the page frame (head, navigation). A value
// reaches a page only through esc() (text and attribute values alike: it escapes & < > " ').
#pragma once

#include <string>
#include <string_view>

namespace web {

// Text safe in HTML text and in quoted attribute values.
std::string esc(std::string_view text);

// Frame of a page: <head> with the style sheet and script, the navigation with `active`
// marked, <main>; `title` is escaped. `live` (optional) is the data-live attribute of <body>
// that tells app.js which Server-Sent Events to follow.
std::string page_begin(std::string_view title, std::string_view active, std::string_view live = "");
std::string page_end();

// "1h02m", "3m05s", "12s"; "-" for a negative value.
std::string duration_text(double seconds);

}  // namespace web
