# tokenizer_tests: parity of layerscope::text with Hugging Face tokenizers on the Llama 3.1 and Llama-2-style
# tokenizer files. The inputs and goldens are committed as tests/reference/tokenizer/data/*.tar.gz (written by
# generate_goldens.js) and extracted into the build tree at configure time.
set(LAYERSCOPE_TOKENIZER_DATA_DIR ${CMAKE_CURRENT_BINARY_DIR}/tokenizer_data)
foreach(name llama3_1 llama2)
  set(archive ${CMAKE_CURRENT_LIST_DIR}/reference/tokenizer/data/${name}.tar.gz)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${archive})
  if(${archive} IS_NEWER_THAN ${LAYERSCOPE_TOKENIZER_DATA_DIR}/${name}/goldens.json)
    file(ARCHIVE_EXTRACT INPUT ${archive} DESTINATION ${LAYERSCOPE_TOKENIZER_DATA_DIR}/${name})
  endif()
endforeach()

add_executable(tokenizer_tests
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer_golden_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer_unit_test.cpp)
target_link_libraries(tokenizer_tests PRIVATE layerscope::text GTest::gtest_main Threads::Threads layerscope::warnings)
target_compile_definitions(tokenizer_tests PRIVATE
  LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  LAYERSCOPE_TOKENIZER_DATA_DIR="${LAYERSCOPE_TOKENIZER_DATA_DIR}")
gtest_discover_tests(tokenizer_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 120)
