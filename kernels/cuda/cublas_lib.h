// cuBLAS, loaded on first use. ae links the CUDA runtime statically and opens libcublas with
// dlopen the first time a GEMM runs on a device, so a run on the CPU never maps cuBLAS (about
// 200 MB resident) and a binary built here runs wherever a cuBLAS of the same major version is.
//
// Where it looks, in order (the first that loads wins):
//   1. AE_CUBLAS, when set: the path of the library file; nothing else is tried.
//   2. The dynamic loader's own search for the soname (libcublas.so.<major>): LD_LIBRARY_PATH,
//      the ldconfig cache, the standard folders.
//   3. The CUDA toolkit: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/{lib64,lib,
//      targets/x86_64-linux/lib}.
//   4. PyTorch's NVIDIA wheels in the site-packages of $VIRTUAL_ENV, of the python3 found on PATH
//      and of /opt/*/.venv, /usr/local/lib/python3.*, /usr/lib/python3: nvidia/cu<major>/lib
//      (the CUDA 13 wheels, `nvidia-cublas`) and nvidia/cublas/lib (the CUDA 12 ones).
// The major version is the one ae was compiled against (CUBLAS_VER_MAJOR): a library of another
// major version has another soname and ABI, and is never loaded.
#pragma once
#include <cublas_v2.h>

#include <string>

namespace ae::cu {

// The cuBLAS functions ae calls, resolved from the loaded library. The members carry the names
// of the functions (cublas_v2.h maps several to their _v2 symbols), so that a failed call's text,
// "cublas().cublasSgemm(...)", names the function (check.h).
struct CublasApi {
  decltype(&::cublasCreate_v2) cublasCreate;
  decltype(&::cublasDestroy_v2) cublasDestroy;
  decltype(&::cublasSetStream_v2) cublasSetStream;
  decltype(&::cublasSetWorkspace_v2) cublasSetWorkspace;
  decltype(&::cublasSetMathMode) cublasSetMathMode;
  decltype(&::cublasSgemm_v2) cublasSgemm;
  decltype(&::cublasDgemm_v2) cublasDgemm;
  decltype(&::cublasGetStatusName) cublasGetStatusName;
  std::string path;  // the file it was loaded from
};

// Loads cuBLAS on the first call (thread-safe) and returns its table. Throws ae::Error, one line
// naming the soname, the places tried and AE_CUBLAS, when no usable library is found; a later
// call tries again.
const CublasApi& cublas();

// The table when cuBLAS is already loaded, else nullptr (never loads it).
const CublasApi* cublas_if_loaded();

// One search as above, uncached (what cublas() runs once; the tests call it with AE_CUBLAS set).
// Same errors as cublas().
CublasApi open_cublas();

}  // namespace ae::cu
