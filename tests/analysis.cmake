# analysis_tests: statistics and sensitivity metrics against independent numpy/scipy references
# (tests/reference/stats/make_stats_reference.py writes stats_reference.json); the model analyses, the pipeline
# and task scoring on small random checkpoints (core_scoring_test.cpp lives here because it needs the byte
# tokenizer and a model, and this executable already links both).
if(TARGET layerscope::analysis)
  add_executable(analysis_tests
    ${CMAKE_CURRENT_LIST_DIR}/analysis_statistics_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/analysis_sensitivity_metrics_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/analysis_model_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/core_scoring_test.cpp)
  target_link_libraries(analysis_tests PRIVATE layerscope::analysis nlohmann_json::nlohmann_json
                        GTest::gtest_main layerscope::warnings)
  target_compile_definitions(analysis_tests PRIVATE
    LAYERSCOPE_STATS_REFERENCE="${PROJECT_SOURCE_DIR}/tests/reference/stats/stats_reference.json")
  gtest_discover_tests(analysis_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 120)
endif()
