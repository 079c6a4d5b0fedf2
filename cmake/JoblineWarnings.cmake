# Warning and sanitizer flags shared by every jobline target: call jobline_target(<tgt>).
add_library(jobline_flags INTERFACE)
target_compile_options(jobline_flags INTERFACE
  -Wall -Wextra -Wconversion -Wsign-conversion -Wswitch-enum -Werror=switch-enum
  $<$<BOOL:${JOBLINE_WERROR}>:-Werror>)
if(JOBLINE_SANITIZE)
  target_compile_options(jobline_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(jobline_flags INTERFACE -fsanitize=address,undefined)
endif()

function(jobline_target tgt)
  target_link_libraries(${tgt} PRIVATE jobline_flags)
endfunction()
