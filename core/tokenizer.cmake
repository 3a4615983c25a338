# layerscope_text: the Hugging Face tokenizer.json tokenizer (issue 3). No torch: builds and tests in seconds.
# PCRE2 (UTF + UCP, JIT) runs the Split regexes; ICU (Debian libicu-dev) gives NFC/NFKC and character classes.
pkg_check_modules(ICU_UC REQUIRED IMPORTED_TARGET icu-uc)

add_library(layerscope_text STATIC
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer_bpe.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer_pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer_regex.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unicode_props.cpp)
target_link_libraries(layerscope_text
  PUBLIC layerscope::base nlohmann_json::nlohmann_json
  PRIVATE PkgConfig::PCRE2 PkgConfig::ICU_UC layerscope::warnings)
add_library(layerscope::text ALIAS layerscope_text)
