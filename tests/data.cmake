# data_tests: task files (formats, loader errors) and the demo task-suite generator. Torch-free.
add_executable(data_tests
  ${CMAKE_CURRENT_LIST_DIR}/data_dataset_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/data_task_suite_test.cpp)
target_link_libraries(data_tests PRIVATE layerscope::data GTest::gtest_main layerscope::warnings)
target_compile_definitions(data_tests PRIVATE LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(data_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 120)
