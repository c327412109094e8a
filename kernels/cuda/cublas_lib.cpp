#include "kernels/cuda/cublas_lib.h"

#include <atomic>
#include <mutex>

#include "kernels/cuda/library_loader.h"

namespace ae::cu {

namespace {

const std::string kMajor = std::to_string(CUBLAS_VER_MAJOR);

const LibrarySearch& search() {
  static const LibrarySearch s{"cuBLAS", "libcublas.so." + kMajor, "AE_CUBLAS",
                               {"nvidia/cu" + kMajor + "/lib", "nvidia/cublas/lib"},
                               "libcublasLt.so." + kMajor, "cublasCreate_v2"};
  return s;
}

}  // namespace

CublasApi open_cublas() {
  const LoadedLibrary lib = open_library(search());
  CublasApi api;
  resolve(lib, search(), "cublasCreate_v2", api.cublasCreate);
  resolve(lib, search(), "cublasDestroy_v2", api.cublasDestroy);
  resolve(lib, search(), "cublasSetStream_v2", api.cublasSetStream);
  resolve(lib, search(), "cublasSetWorkspace_v2", api.cublasSetWorkspace);
  resolve(lib, search(), "cublasSetMathMode", api.cublasSetMathMode);
  resolve(lib, search(), "cublasSgemm_v2", api.cublasSgemm);
  resolve(lib, search(), "cublasDgemm_v2", api.cublasDgemm);
  resolve(lib, search(), "cublasGetStatusName", api.cublasGetStatusName);
  api.path = lib.path;
  return api;
}

namespace {

std::mutex g_mutex;
std::atomic<const CublasApi*> g_api{nullptr};

}  // namespace

const CublasApi& cublas() {
  if (const CublasApi* api = g_api.load(std::memory_order_acquire)) return *api;
  std::lock_guard lock(g_mutex);
  if (const CublasApi* api = g_api.load(std::memory_order_relaxed)) return *api;
  static CublasApi loaded;
  loaded = open_cublas();  // throws, leaving g_api null, when nothing is found
  g_api.store(&loaded, std::memory_order_release);
  return loaded;
}

const CublasApi* cublas_if_loaded() { return g_api.load(std::memory_order_acquire); }

}  // namespace ae::cu
