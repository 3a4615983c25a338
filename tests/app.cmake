# app_tests: main window smoke test, figure export files (PDF header, SVG XML paths, PNG size = DPI x inches),
# sessions, and an analysis cancelled through the worker thread on a tiny random model (needs the pipeline).
if(LAYERSCOPE_BUILD_GUI AND TARGET layerscope_gui)
  add_executable(app_tests ${CMAKE_CURRENT_LIST_DIR}/app_test.cpp ${CMAKE_CURRENT_LIST_DIR}/app_train_test.cpp ${CMAKE_CURRENT_LIST_DIR}/app_e2e_test.cpp)
  target_link_libraries(app_tests PRIVATE layerscope::gui Qt6::Test GTest::gtest layerscope::warnings)
  target_compile_definitions(app_tests PRIVATE LAYERSCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(app_tests PROPERTIES LABELS unit ENVIRONMENT QT_QPA_PLATFORM=offscreen DISCOVERY_TIMEOUT 120)
endif()
