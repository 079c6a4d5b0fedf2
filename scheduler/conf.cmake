# scheduler_core_conf: the scheduler's configuration (config.*), command line (options.*)
# and logger (log.*). Included from scheduler/CMakeLists.txt.
add_library(scheduler_core_conf STATIC
  ${CMAKE_CURRENT_LIST_DIR}/config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plugin.cpp
  ${CMAKE_CURRENT_LIST_DIR}/options.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log.cpp)
target_include_directories(scheduler_core_conf PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(scheduler_core_conf PUBLIC PkgConfig::GLIB Boost::program_options fmt::fmt)
target_compile_definitions(scheduler_core_conf PRIVATE
  JOBLINE_DEFAULT_CONF_DIR="${CMAKE_INSTALL_FULL_SYSCONFDIR}/jobline"
  JOBLINE_DEFAULT_LOG_DIR="${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log/jobline"
  JOBLINE_VERSION="${PROJECT_VERSION}")
jobline_target(scheduler_core_conf)
