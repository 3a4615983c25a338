# demo_tests: the shipped demo model organism (resources/models/demo) loads, reproduces its model card's
# per-task accuracy on the bundled eval files, and passes the float64 parity reference.
add_executable(demo_tests demo_model_test.cpp)
target_link_libraries(demo_tests PRIVATE layerscope::core GTest::gtest_main layerscope::warnings)
target_compile_definitions(demo_tests PRIVATE
  LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}" LAYERSCOPE_PYTHON3="${LAYERSCOPE_PYTHON3}")
gtest_discover_tests(demo_tests PROPERTIES LABELS slow DISCOVERY_TIMEOUT 120)
