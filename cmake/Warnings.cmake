# Warnings as an INTERFACE target, linked PRIVATE by every project target.
add_library(layerscope_warnings INTERFACE)
add_library(layerscope::warnings ALIAS layerscope_warnings)
target_compile_options(layerscope_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wno-unused-parameter)
