// NCCL, loaded on first use like cuBLAS (kernels/cuda/library_loader.h: AE_NCCL, the loader's
// path, the CUDA toolkit, PyTorch's nvidia/nccl/lib and nvidia/cu<major>/lib wheels). Only a run
// that sums gradients between GPUs maps it (it is about 220 MB). The major version is the one ae
// was compiled against (NCCL_MAJOR); its soname is libnccl.so.<major>.
#pragma once
#if AE_HAVE_NCCL
#include <nccl.h>

#include <string>

#include "core/error.h"

namespace ae::cu {

// The NCCL functions ae calls, resolved from the loaded library.
struct NcclApi {
  decltype(&::ncclGetVersion) ncclGetVersion;
  decltype(&::ncclGetUniqueId) ncclGetUniqueId;
  decltype(&::ncclCommInitRank) ncclCommInitRank;
  decltype(&::ncclCommDestroy) ncclCommDestroy;
  decltype(&::ncclCommAbort) ncclCommAbort;
  decltype(&::ncclCommGetAsyncError) ncclCommGetAsyncError;
  decltype(&::ncclAllReduce) ncclAllReduce;
  decltype(&::ncclBroadcast) ncclBroadcast;
  decltype(&::ncclGetErrorString) ncclGetErrorString;
  std::string path;  // the file it was loaded from
  int version = 0;   // NCCL_VERSION_CODE of the loaded library, e.g. 22807
};

// Loads NCCL on the first call (thread-safe) and returns its table. Throws ae::Error, one line
// naming the soname, the places tried and AE_NCCL, when no usable library is found.
const NcclApi& nccl();

// One search, uncached (what nccl() runs once; the tests call it with AE_NCCL set).
NcclApi open_nccl();

// "<context>: ncclAllReduce failed: <NCCL's text>"; `call` is the checked expression.
[[noreturn]] void throw_nccl_error(ncclResult_t result, const char* call, const std::string& context);

}  // namespace ae::cu

// Throws ae::Error "<context>: ncclAllReduce failed: <NCCL's text>" when the call fails.
#define AE_NCCL_CHECK(call, ...)                                                          \
  do {                                                                                    \
    ncclResult_t ae_nccl_result_ = (call);                                                \
    if (ae_nccl_result_ != ncclSuccess)                                                   \
      ::ae::cu::throw_nccl_error(ae_nccl_result_, #call, ::ae::cat(__VA_ARGS__));         \
  } while (0)
#endif
