# views_tests: results reader and every view rendered offscreen from synthetic results (results/synthetic.h);
# item models through QAbstractItemModelTester.
if(LAYERSCOPE_BUILD_GUI AND TARGET layerscope_views)
  add_executable(views_tests ${CMAKE_CURRENT_LIST_DIR}/views_test.cpp)
  set_target_properties(views_tests PROPERTIES AUTOMOC ON)
  target_link_libraries(views_tests PRIVATE layerscope::views Qt6::Test GTest::gtest layerscope::warnings)
  gtest_discover_tests(views_tests PROPERTIES LABELS unit ENVIRONMENT QT_QPA_PLATFORM=offscreen DISCOVERY_TIMEOUT 120)
endif()
