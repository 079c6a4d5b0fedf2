# Warning and sanitizer flags shared by every jobline target: call jobline_target(<tgt>).
add_library(jobline_flags INTERFACE)
target_compile_options(jobline_flags INTERFACE
  -Wall -Wextra -Wconversion -Wsign-conversion -Wswitch-enum -Werror=switch-enum
  $<$<BOOL:${JOBLINE_WERROR}>:-Werror>)
# GCC 12 reports impossible overlaps inside inlined std::string appends at -O3 (-Wrestrict,
# GCC bugs 105329 and 105651, fixed in GCC 13): switched off for GCC 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(jobline_flags INTERFACE -Wno-restrict)
endif()
if(JOBLINE_SANITIZE)
  target_compile_options(jobline_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  # ASan's instrumentation makes GCC's -Wmaybe-uninitialized misfire (inside libstdc++'s
  # <regex> and <functional> with GCC 12): off in sanitizer builds only, where the sanitizers
  # check the real thing at run time.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(jobline_flags INTERFACE -Wno-maybe-uninitialized)
  endif()
  target_link_options(jobline_flags INTERFACE -fsanitize=address,undefined)
endif()

# The fuzz build (-DJOBLINE_FUZZ=ON, clang): every library is instrumented for coverage and
# checked by ASan/UBSan, so that a fuzz target linking them (tests/fuzz) is guided through them.
if(JOBLINE_FUZZ)
  target_compile_options(jobline_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(jobline_flags INTERFACE -fsanitize=address,undefined)
endif()

function(jobline_target tgt)
  target_link_libraries(${tgt} PRIVATE jobline_flags)
endfunction()
