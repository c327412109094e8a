#if AE_HAVE_NCCL
#include "kernels/cuda/nccl_lib.h"

#include <mutex>
#include <string_view>

#include "kernels/cuda/library_loader.h"

namespace ae::cu {

namespace {

const LibrarySearch& search() {
  static const LibrarySearch s{"NCCL", "libnccl.so." + std::to_string(NCCL_MAJOR), "AE_NCCL",
                               {"nvidia/nccl/lib", "nvidia/cu" + std::to_string(CUDART_VERSION / 1000) + "/lib"},
                               "", "ncclGetVersion"};
  return s;
}

}  // namespace

NcclApi open_nccl() {
  const LoadedLibrary lib = open_library(search());
  NcclApi api;
  resolve(lib, search(), "ncclGetVersion", api.ncclGetVersion);
  resolve(lib, search(), "ncclGetUniqueId", api.ncclGetUniqueId);
  resolve(lib, search(), "ncclCommInitRank", api.ncclCommInitRank);
  resolve(lib, search(), "ncclCommDestroy", api.ncclCommDestroy);
  resolve(lib, search(), "ncclCommAbort", api.ncclCommAbort);
  resolve(lib, search(), "ncclCommGetAsyncError", api.ncclCommGetAsyncError);
  resolve(lib, search(), "ncclAllReduce", api.ncclAllReduce);
  resolve(lib, search(), "ncclBroadcast", api.ncclBroadcast);
  resolve(lib, search(), "ncclGetErrorString", api.ncclGetErrorString);
  api.path = lib.path;
  AE_CHECK(api.ncclGetVersion(&api.version) == ncclSuccess, "NCCL: ", lib.path,
           ": ncclGetVersion failed");
  AE_CHECK(api.version / 10000 == NCCL_MAJOR, "NCCL: ", lib.path, " is version ", api.version,
           ", ae was built against NCCL ", NCCL_MAJOR, ".x");
  return api;
}

const NcclApi& nccl() {
  static std::mutex mutex;
  static NcclApi loaded;
  static bool ready = false;
  std::lock_guard lock(mutex);
  if (!ready) {
    loaded = open_nccl();  // throws, leaving ready false, when nothing is found
    ready = true;
  }
  return loaded;
}

void throw_nccl_error(ncclResult_t result, const char* call, const std::string& context) {
  std::string_view name(call);  // "cu::nccl().ncclAllReduce(buf, ...)" -> "ncclAllReduce"
  if (const size_t table = name.find("nccl()."); table != std::string_view::npos)
    name.remove_prefix(table + 7);
  name = name.substr(0, name.find('('));
  fail(cat(context, ": ", name, " failed: ", nccl().ncclGetErrorString(result)));
}

}  // namespace ae::cu
#endif
