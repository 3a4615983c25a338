# Precompiled headers. LibTorch: <torch/torch.h> takes ~29 s to parse at -O3 on the reference 2-core machine and
# nearly every LibTorch translation unit includes it; with the precompiled header a unit that includes it compiles
# ~35% faster (measured on core/model/scoring.cpp: 28.5 s against 46.6 s). Generating the header costs about as
# much as two such units, so it is generated once, by layerscope_model, and every target with the same code
# generation flags reuses it; Qt targets (-fPIC) generate their own. Turn it off with -DLAYERSCOPE_PCH=OFF (for
# example to check that every file includes what it uses: the PCH hides a missing #include <torch/torch.h>).
option(LAYERSCOPE_PCH "Precompile <torch/torch.h> for the LibTorch targets" ON)

# layerscope_torch_pch(<target> [OWN]): give <target> the precompiled <torch/torch.h>: its own with OWN (Qt
# targets and layerscope_model itself), else layerscope_model's.
function(layerscope_torch_pch target)
  if(NOT LAYERSCOPE_PCH)
    return()
  endif()
  if(target STREQUAL "layerscope_model" OR "OWN" IN_LIST ARGN)
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  else()
    target_precompile_headers(${target} REUSE_FROM layerscope_model)
  endif()
endfunction()

# layerscope_qt_pch(<target> [header...]): precompile views/qcp.h (QCustomPlot and the Qt Widgets, Gui and Core
# headers under it) and any extra headers given (e.g. "<gtest/gtest.h>"), appended to the target's precompiled
# header (after <torch/torch.h> where the target has it). Parsing them is most of a view file's compile: 9.4 of
# the 11.0 s of CPU of views/loss_curve_view.cpp on the reference machine.
function(layerscope_qt_pch target)
  if(NOT LAYERSCOPE_PCH)
    return()
  endif()
  target_precompile_headers(${target} PRIVATE "${PROJECT_SOURCE_DIR}/views/qcp.h" ${ARGN})
endfunction()
