# libagent's database side (SPEC §8): Database, agent_pk, ars and the KILL-safe item loop,
# compiled into the agent libraries. libpq is private to the shared library; the static one
# passes it on to its users.
set(LIBAGENT_DB_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/db.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/db_pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/db_conninfo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/agent_pk.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/ars.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/item_loop.cpp
)
target_sources(agent PRIVATE ${LIBAGENT_DB_SOURCES})
target_link_libraries(agent PRIVATE PostgreSQL::PostgreSQL)
if(TARGET agent_static)
  target_sources(agent_static PRIVATE ${LIBAGENT_DB_SOURCES})
  target_link_libraries(agent_static PUBLIC $<BUILD_INTERFACE:PostgreSQL::PostgreSQL>
                                            $<INSTALL_INTERFACE:pq>)
endif()
