# One ctest test per GoogleTest suite (docs/design.md, "Tests"). gtest_discover_tests registers one test per test
# case, and ctest then starts one process per case; every LibTorch test process spends about 1 s loading LibTorch
# before its first line runs (its static initialisers), which in CI came to about 360 of the 410 process-seconds
# of the unit tests. A suite per process keeps ctest's selection (-R, -L, labels, COST) at the suite level, and
# GoogleTest still names every failing case in the output (--output-on-failure).
#
# layerscope_gtest_suites(<target> [LABELS label...] [ENVIRONMENT VAR=value...] [COST n] [TEST_FILTER filter])
#   Registers "<target>:<Suite>" for every suite the executable lists after it is built (like
#   gtest_discover_tests' POST_BUILD mode), each running --gtest_filter=<Suite>.* in CMAKE_CURRENT_BINARY_DIR.
#   TEST_FILTER is a GoogleTest filter applied when listing (e.g. "-SlowAdapters.*").
set(LAYERSCOPE_GTEST_SUITES_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/GTestSuitesDiscover.cmake")

function(layerscope_gtest_suites target)
  cmake_parse_arguments(A "" "COST;TEST_FILTER" "LABELS;ENVIRONMENT" ${ARGN})
  set(key "${target}")
  if(A_TEST_FILTER)
    string(MD5 hash "${A_TEST_FILTER}")
    string(SUBSTRING "${hash}" 0 8 hash)
    string(APPEND key "_${hash}")
  endif()
  set(ctest_file "${CMAKE_CURRENT_BINARY_DIR}/${key}_suites.cmake")
  # Lists travel through -D with '|' in place of ';'.
  string(REPLACE ";" "|" labels "${A_LABELS}")
  string(REPLACE ";" "|" environment "${A_ENVIRONMENT}")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND}
      -D "EXE=$<TARGET_FILE:${target}>" -D "OUT=${ctest_file}" -D "PREFIX=${target}"
      -D "FILTER=${A_TEST_FILTER}" -D "LABELS=${labels}" -D "ENVIRONMENT=${environment}" -D "COST=${A_COST}"
      -D "WORKDIR=${CMAKE_CURRENT_BINARY_DIR}"
      -P "${LAYERSCOPE_GTEST_SUITES_SCRIPT}"
    BYPRODUCTS "${ctest_file}"
    VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${ctest_file}")
endfunction()
