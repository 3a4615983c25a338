# Adapter commands: train (LS-LoRA / GARFA), merge, ablate, bench train.
target_sources(layerscope-cli PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_adapters.cpp)
