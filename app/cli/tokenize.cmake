# tokenize / bench tokenize subcommands (issue 3).
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_tokenize.cpp)
target_link_libraries(layerscope-cli PRIVATE layerscope::text)
