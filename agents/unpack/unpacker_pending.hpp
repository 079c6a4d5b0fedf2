// Unpacker::Pending: a symbolic link inside a container, registered once the container has
// been read (unpacker_links.cpp). Private to the Unpacker's sources.
#pragma once

#include <string>
#include <vector>

#include "unpacker.hpp"

namespace unpack {

struct Unpacker::Pending {
  int parent = -1;                        // the node the link is an entry of
  std::string name;                       // its name there
  std::string target;                     // the link's text, for messages
  std::vector<std::string> target_parts;  // the target, from the container's root
  std::string where;                      // the link's path, for messages
};

// Thrown by put_fd's reader when a file does not read back as it was listed.
struct Changed {
  std::string why;
};

}  // namespace unpack
