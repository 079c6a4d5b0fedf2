#!/usr/bin/env bash
# libagent_recipe.sh <build dir> <source dir> [flags]: builds the example agent as docs/libagent.md
# tells a third party to (pkg-config against the build tree, and CMake's find_package), then
# runs both binaries by hand: they must start (libagent.so found) and do their work.
set -euo pipefail
build=$1 src=$2 flags=${3:-} # flags: the sanitizers of a sanitizer build, else none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
expected=$'LOG: example: hello has 5 bytes\nLOG: example: wide world has 10 bytes'

# pkg-config: docs/libagent.md, "Building against libagent".
export PKG_CONFIG_PATH="$build/libagent"
# shellcheck disable=SC2046,SC2086  # pkg-config's words and $flags are flags
g++ -std=c++20 $flags "$src/agents/example/example.cpp" $(pkg-config --cflags --libs libagent) \
  -o "$work/by_pkg_config"
out=$("$work/by_pkg_config" hello "wide world" 2>&1)
[[ "$out" == "$expected" ]] || { echo "pkg-config build printed: $out"; exit 1; }

# CMake: find_package(libagent) with libagent_DIR=<build>/libagent.
mkdir "$work/cmake"
cat >"$work/cmake/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(my_agent CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(libagent 0.1 REQUIRED)
add_executable(my_agent $src/agents/example/example.cpp)
target_link_libraries(my_agent PRIVATE libagent::agent)
CMAKE
cmake -S "$work/cmake" -B "$work/cmake/build" -Dlibagent_DIR="$build/libagent" \
  -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake/build" >/dev/null
out=$("$work/cmake/build/my_agent" hello "wide world" 2>&1)
[[ "$out" == "$expected" ]] || { echo "CMake build printed: $out"; exit 1; }
echo "both recipes build an agent that starts and works"
