# adapters_tests: LS-LoRA / GARFA adapters, PEFT files, merging, adapter training (frozen base, exact resume),
# benchmark loaders and answer extraction on small random byte-level checkpoints. SlowAdapters.* is labelled
# slow (a short fine-tune that must improve held-out accuracy); everything else unit.
add_executable(adapters_tests
  ${CMAKE_CURRENT_LIST_DIR}/adapters_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/adapters_slow_test.cpp)
target_link_libraries(adapters_tests PRIVATE layerscope::core nlohmann_json::nlohmann_json GTest::gtest_main
                      layerscope::warnings)
gtest_discover_tests(adapters_tests TEST_FILTER "-SlowAdapters.*" PROPERTIES LABELS unit DISCOVERY_TIMEOUT 120)
gtest_discover_tests(adapters_tests TEST_FILTER "SlowAdapters.*" PROPERTIES LABELS slow DISCOVERY_TIMEOUT 120)
