// The license detector: SPDX-License-Identifier expressions, and the texts and standard
// notices of common licenses, in a file's bytes. Pure (no I/O); the agent (license.cpp)
// stores what it returns. Ids are SPDX ids checked against SpdxList; byte ranges are [start,
// end) offsets into the text, lines count from 1.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "spdx_list.hpp"

namespace license {

enum class Source {
  Tag,     // an SPDX-License-Identifier expression
  Text,    // the license's full text
  Notice,  // the license's standard notice ("Licensed under the Apache License, Version 2.0")
};

struct Match {
  std::string id;  // SPDX id, or "<license> WITH <exception>"
  Source source = Source::Tag;
  std::size_t start = 0, end = 0;
  std::size_t line = 0;
  bool operator==(const Match&) const = default;
};

struct Detection {
  std::vector<Match> matches;        // one per id (its first place), ordered by start
  std::vector<std::string> unknown;  // ids in SPDX tags that are not on the SPDX lists
};

Detection detect(std::string_view text, const SpdxList& spdx = SpdxList::builtin());

// A human name for the ids the detector finds by text ("MIT License", ...); "" for others.
std::string_view full_name(std::string_view id);

// Exposed for tests: a text reduced to lower-case words separated by single spaces.
std::string normalize(std::string_view text);

}  // namespace license
