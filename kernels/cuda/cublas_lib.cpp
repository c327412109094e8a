#include "kernels/cuda/cublas_lib.h"

#include <dlfcn.h>
#include <glob.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace ae::cu {

namespace {

namespace fs = std::filesystem;

const std::string kMajor = std::to_string(CUBLAS_VER_MAJOR);
const std::string kSoname = "libcublas.so." + kMajor;
const std::string kLtSoname = "libcublasLt.so." + kMajor;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void add_glob(std::vector<std::string>& out, const std::string& pattern) {
  glob_t g{};
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
}

// The folders of step 3 and 4 (cublas_lib.h), in order, duplicates left in (harmless).
std::vector<std::string> candidate_folders() {
  std::vector<std::string> dirs;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (std::string root = env(var); !root.empty()) dirs.push_back(root + "/lib64");
  for (const char* d : {"/usr/local/cuda/lib64", "/usr/local/cuda/lib",
                        "/usr/local/cuda/targets/x86_64-linux/lib"})
    dirs.emplace_back(d);

  std::vector<std::string> prefixes;  // Python environments
  if (std::string venv = env("VIRTUAL_ENV"); !venv.empty()) prefixes.push_back(venv);
  for (std::string path = env("PATH"); !path.empty();) {
    const size_t colon = path.find(':');
    const std::string dir = path.substr(0, colon);
    path = colon == std::string::npos ? "" : path.substr(colon + 1);
    std::error_code ec;
    if (!dir.empty() && fs::exists(dir + "/python3", ec))
      prefixes.push_back(fs::path(dir).parent_path().string());
  }
  add_glob(prefixes, "/opt/*/.venv");
  std::vector<std::string> site;
  for (const std::string& p : prefixes) {
    add_glob(site, p + "/lib/python3*/site-packages");
    add_glob(site, p + "/lib/python3*/dist-packages");
  }
  add_glob(site, "/usr/local/lib/python3*/dist-packages");
  add_glob(site, "/usr/local/lib/python3*/site-packages");
  site.emplace_back("/usr/lib/python3/dist-packages");
  for (const std::string& s : site) {
    dirs.push_back(s + "/nvidia/cu" + kMajor + "/lib");
    dirs.push_back(s + "/nvidia/cublas/lib");
  }
  return dirs;
}

template <class F>
void resolve(void* lib, const char* name, F& fn, const std::string& path) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  AE_CHECK(fn != nullptr, "cuBLAS: ", path, " lacks ", name, " (not a cuBLAS ", kMajor, " library?)");
}

}  // namespace

CublasApi open_cublas() {
  void* lib = nullptr;
  std::string path;
  std::string last_error;
  auto try_open = [&](const std::string& file) {
    // cuBLAS needs cuBLASLt of the same folder; load it first so that the soname is resolved
    // whatever libcublas's own run path says.
    const fs::path dir = fs::path(file).parent_path();
    if (!dir.empty()) dlopen((dir / kLtSoname).c_str(), RTLD_NOW | RTLD_GLOBAL);
    lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) path = file;
    else if (const char* e = dlerror()) last_error = e;
    return lib != nullptr;
  };

  if (std::string forced = env("AE_CUBLAS"); !forced.empty()) {
    AE_CHECK(try_open(forced), "cuBLAS: AE_CUBLAS=", forced, " could not be loaded: ", last_error);
  } else if (!try_open(kSoname)) {
    for (const std::string& dir : candidate_folders()) {
      std::error_code ec;
      const std::string file = dir + "/" + kSoname;
      if (fs::exists(file, ec) && try_open(file)) break;
    }
    AE_CHECK(lib != nullptr, "cuBLAS (", kSoname, ") not found: tried the loader's path "
             "(LD_LIBRARY_PATH, ldconfig), $CUDA_HOME/lib64, /usr/local/cuda/lib64 and PyTorch's "
             "nvidia/cu", kMajor, "/lib wheels; install cuBLAS ", kMajor,
             " or set AE_CUBLAS to the library file (last error: ", last_error, ")");
  }
  if (path == kSoname) {  // report the file the loader picked
    Dl_info info{};
    void* sym = dlsym(lib, "cublasCreate_v2");
    if (sym && dladdr(sym, &info) && info.dli_fname) path = info.dli_fname;
  }
  CublasApi api;
  resolve(lib, "cublasCreate_v2", api.cublasCreate, path);
  resolve(lib, "cublasDestroy_v2", api.cublasDestroy, path);
  resolve(lib, "cublasSetStream_v2", api.cublasSetStream, path);
  resolve(lib, "cublasSetWorkspace_v2", api.cublasSetWorkspace, path);
  resolve(lib, "cublasSetMathMode", api.cublasSetMathMode, path);
  resolve(lib, "cublasSgemm_v2", api.cublasSgemm, path);
  resolve(lib, "cublasDgemm_v2", api.cublasDgemm, path);
  resolve(lib, "cublasGetStatusName", api.cublasGetStatusName, path);
  api.path = path;
  return api;  // the library stays open until the process ends
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
