# Model commands: info, logits, make-model, bench forward (core engine).
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_model.cpp)
