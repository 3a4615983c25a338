# Analysis commands: eval, analyze, manipulate, drop, bench analyze (analysis/ pipeline and model analyses).
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_analyze.cpp)
target_link_libraries(layerscope-cli PRIVATE layerscope::analysis)
set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/cmd_analyze.cpp APPEND PROPERTY COMPILE_DEFINITIONS
             LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
