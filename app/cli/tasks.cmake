# make-tasks: writes the demo task suite (core/task_suite.h) as JSONL files plus a manifest.
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_tasks.cpp)
target_link_libraries(layerscope-cli PRIVATE layerscope::data)
