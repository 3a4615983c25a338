# LibTorch from a PyTorch installation without TorchConfig.cmake (docs/gpu.md). TorchConfig.cmake of a CUDA
# PyTorch runs find_package(CUDA) and so needs the CUDA toolkit (nvcc, headers), which a machine with only the
# PyTorch wheels (CUDA runtime libraries in site-packages) does not have. LayerScope calls no CUDA API directly,
# so linking torch, torch_cpu, c10 and, when present, torch_cuda / c10_cuda is all it needs.
# Input: LAYERSCOPE_PYTHON (default: python3 on PATH). Output: TORCH_LIBRARIES (one imported target) and
# LAYERSCOPE_TORCH_CUDA (ON when the PyTorch has CUDA libraries).
set(LAYERSCOPE_PYTHON "python3" CACHE STRING "Python interpreter whose PyTorch provides LibTorch")
execute_process(
  COMMAND ${LAYERSCOPE_PYTHON} -c
    "import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.__version__)"
  OUTPUT_VARIABLE _ls_torch_out RESULT_VARIABLE _ls_torch_rc ERROR_VARIABLE _ls_torch_err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _ls_torch_rc EQUAL 0)
  message(FATAL_ERROR "LAYERSCOPE_TORCH_FROM_PYTHON: '${LAYERSCOPE_PYTHON} -c \"import torch\"' failed: ${_ls_torch_err}")
endif()
string(REPLACE "\n" ";" _ls_torch_out "${_ls_torch_out}")
list(GET _ls_torch_out 0 _ls_torch_dir)
list(GET _ls_torch_out 1 _ls_torch_abi)
list(GET _ls_torch_out 2 _ls_torch_version)

add_library(layerscope_torch INTERFACE IMPORTED GLOBAL)
target_include_directories(layerscope_torch SYSTEM INTERFACE
  ${_ls_torch_dir}/include ${_ls_torch_dir}/include/torch/csrc/api/include)
target_compile_definitions(layerscope_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_ls_torch_abi})
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${_ls_torch_abi}")  # as TorchConfig.cmake reports it
set(_ls_torch_libs)
foreach(_lib torch torch_cpu c10)
  find_library(_ls_${_lib} ${_lib} PATHS ${_ls_torch_dir}/lib NO_DEFAULT_PATH REQUIRED)
  list(APPEND _ls_torch_libs ${_ls_${_lib}})
endforeach()
set(LAYERSCOPE_TORCH_CUDA OFF)
find_library(_ls_torch_cuda torch_cuda PATHS ${_ls_torch_dir}/lib NO_DEFAULT_PATH)
find_library(_ls_c10_cuda c10_cuda PATHS ${_ls_torch_dir}/lib NO_DEFAULT_PATH)
if(_ls_torch_cuda AND _ls_c10_cuda)
  set(LAYERSCOPE_TORCH_CUDA ON)
  # Nothing references torch_cuda's symbols directly: keep it linked so its CUDA hooks register at load time.
  list(APPEND _ls_torch_libs "-Wl,--no-as-needed" ${_ls_torch_cuda} ${_ls_c10_cuda} "-Wl,--as-needed")
endif()
target_link_libraries(layerscope_torch INTERFACE ${_ls_torch_libs})
# The wheels' libraries find their CUDA runtime through their own RUNPATH; the executables find the wheels' libs here.
set(CMAKE_BUILD_RPATH "${_ls_torch_dir}/lib")
set(TORCH_LIBRARIES layerscope_torch)
message(STATUS "LibTorch ${_ls_torch_version} from ${_ls_torch_dir} (CXX11 ABI ${_ls_torch_abi}, CUDA ${LAYERSCOPE_TORCH_CUDA})")
