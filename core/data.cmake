# layerscope_data: torch-free task files (JSONL readers/writers, fingerprints) and the demo task-suite
# generator. Links only layerscope::base so it builds and tests without LibTorch.
add_library(layerscope_data STATIC
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/task_suite.cpp)
target_link_libraries(layerscope_data PUBLIC layerscope::base PRIVATE layerscope::warnings)
add_library(layerscope::data ALIAS layerscope_data)
