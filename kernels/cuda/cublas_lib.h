// cuBLAS, loaded on first use. ae links the CUDA runtime statically and opens libcublas with
// dlopen the first time a GEMM runs on a device, so a run on the CPU never maps cuBLAS (about
// 200 MB resident) and a binary built here runs wherever a cuBLAS of the same major version is.
//
// Where it looks: kernels/cuda/library_loader.h (AE_CUBLAS; the loader's path; the CUDA toolkit;
// PyTorch's nvidia/cu<major>/lib and nvidia/cublas/lib wheels).
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
