// The search behind the CUDA libraries that ae opens with dlopen on first use (cuBLAS, NCCL), so
// that a CPU run maps none of them and a binary built here runs wherever a library of the same
// major version is installed.
//
// Where it looks, in order (the first that loads wins):
//   1. The library's environment variable (AE_CUBLAS, AE_NCCL), when set: the path of the
//      library file; nothing else is tried.
//   2. The dynamic loader's own search for the soname: LD_LIBRARY_PATH, the ldconfig cache, the
//      standard folders.
//   3. The CUDA toolkit: $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/{lib64,lib,
//      targets/x86_64-linux/lib}.
//   4. PyTorch's NVIDIA wheels in the site-packages of $VIRTUAL_ENV, of the python3 found on PATH
//      and of /opt/*/.venv, /usr/local/lib/python3.*, /usr/lib/python3: the library's wheel
//      folders (nvidia/cu13/lib, nvidia/cublas/lib, nvidia/nccl/lib, ...).
#pragma once
#include <dlfcn.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace ae::cu {

struct LibrarySearch {
  std::string name;        // for messages: "cuBLAS"
  std::string soname;      // "libcublas.so.13"
  std::string env_var;     // "AE_CUBLAS"
  std::vector<std::string> wheel_folders;  // under site-packages: "nvidia/cublas/lib"
  std::string companion;   // a soname opened first from the same folder ("libcublasLt.so.13"), or ""
  std::string probe;       // a symbol of the library, to report the file the loader picked
};

struct LoadedLibrary {
  void* handle = nullptr;  // stays open until the process ends
  std::string path;        // the file it was loaded from
};

// One search as above. Throws ae::Error, one line naming the soname, the places tried and the
// environment variable, when no file loads.
LoadedLibrary open_library(const LibrarySearch& search);

// fn = the library's `symbol`; throws ae::Error naming the file and the symbol when it lacks it.
template <class F>
void resolve(const LoadedLibrary& lib, const LibrarySearch& search, const char* symbol, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib.handle, symbol));
  AE_CHECK(fn != nullptr, search.name, ": ", lib.path, " lacks ", symbol, " (not a ", search.name,
           " library of this major version?)");
}

}  // namespace ae::cu
