# Figure export command (GUI area): `layerscope-cli figure` draws with the same views code as the GUI,
# so it needs Qt and QCustomPlot; without LAYERSCOPE_BUILD_GUI the command is simply absent.
if(LAYERSCOPE_BUILD_GUI AND TARGET layerscope_views)
  target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_figure.cpp)
  target_link_libraries(layerscope-cli PRIVATE layerscope::views)
endif()
