# Warnings as an INTERFACE target, linked PRIVATE by every project target.
add_library(layerscope_warnings INTERFACE)
add_library(layerscope::warnings ALIAS layerscope_warnings)
target_compile_options(layerscope_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wno-unused-parameter)
# g++ 12 reports -Wrestrict and -Wstringop-overflow inside libstdc++'s std::string operator+ / insert when inlined at
# -O3, with impossible sizes (2^63 bytes) where the code has no overlap and no overflow (GCC bug 105329 and related
# reports): about 20 such warnings in a fresh build, every one in string concatenation. Off for g++ 12 only; other
# compilers (g++ 13 on the GPU machine, clang-14 for the sanitizer build) keep both.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(layerscope_warnings INTERFACE -Wno-restrict -Wno-stringop-overflow)
endif()
