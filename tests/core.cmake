# core_tests: config, safetensors, checkpoint validation, the forward pass and its interventions.
# The parity tests run the independent numpy reference (tests/reference/llama_reference.py) with Debian's
# python3 (python3-numpy), so the reference shares no code with the core.
find_program(LAYERSCOPE_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT LAYERSCOPE_PYTHON3)
  find_program(LAYERSCOPE_PYTHON3 NAMES python3 REQUIRED)
endif()
add_executable(core_tests
  core_config_test.cpp
  core_safetensors_test.cpp
  core_model_test.cpp
  core_intervention_test.cpp
  core_byte_tokenizer_test.cpp
  core_trainer_test.cpp
  core_dropout_test.cpp)
target_link_libraries(core_tests PRIVATE layerscope::core GTest::gtest_main layerscope::warnings)
target_compile_definitions(core_tests PRIVATE
  LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}" LAYERSCOPE_PYTHON3="${LAYERSCOPE_PYTHON3}")
gtest_discover_tests(core_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 120)
