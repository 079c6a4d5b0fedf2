// The SPDX id lists embedded at build time (spdx_embed.cmake writes spdx_data.cpp from
// Debian's node-spdx-license-ids and node-spdx-exceptions): JSON arrays of strings.
#pragma once

namespace license::data {
extern const char* const license_ids;
extern const char* const deprecated_ids;
extern const char* const exception_ids;
}  // namespace license::data
