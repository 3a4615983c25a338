# Training commands: pretrain (model organisms); the adapter commands join here.
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_train.cpp)
