#include "kernels/cuda/library_loader.h"

#include <glob.h>

#include <cstdlib>
#include <filesystem>

namespace ae::cu {

namespace {

namespace fs = std::filesystem;

std::string env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

void add_glob(std::vector<std::string>& out, const std::string& pattern) {
  glob_t g{};
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
}

// The folders of steps 3 and 4 (library_loader.h), in order, duplicates left in (harmless).
std::vector<std::string> candidate_folders(const LibrarySearch& search) {
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
  for (const std::string& s : site)
    for (const std::string& w : search.wheel_folders) dirs.push_back(s + "/" + w);
  return dirs;
}

}  // namespace

LoadedLibrary open_library(const LibrarySearch& search) {
  LoadedLibrary lib;
  std::string last_error;
  auto try_open = [&](const std::string& file) {
    // A companion library (cuBLASLt for cuBLAS) is loaded first from the same folder, so that its
    // soname resolves whatever the library's own run path says.
    const fs::path dir = fs::path(file).parent_path();
    if (!search.companion.empty() && !dir.empty())
      dlopen((dir / search.companion).c_str(), RTLD_NOW | RTLD_GLOBAL);
    lib.handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle) lib.path = file;
    else if (const char* e = dlerror()) last_error = e;
    return lib.handle != nullptr;
  };

  if (std::string forced = env(search.env_var); !forced.empty()) {
    AE_CHECK(try_open(forced), search.name, ": ", search.env_var, "=", forced,
             " could not be loaded: ", last_error);
  } else if (!try_open(search.soname)) {
    for (const std::string& dir : candidate_folders(search)) {
      std::error_code ec;
      const std::string file = dir + "/" + search.soname;
      if (fs::exists(file, ec) && try_open(file)) break;
    }
    std::string wheels;
    for (const std::string& w : search.wheel_folders) wheels += (wheels.empty() ? "" : ", ") + w;
    AE_CHECK(lib.handle != nullptr, search.name, " (", search.soname, ") not found: tried the "
             "loader's path (LD_LIBRARY_PATH, ldconfig), $CUDA_HOME/lib64, /usr/local/cuda/lib64 "
             "and PyTorch's wheels (", wheels, "); install ", search.name, " or set ",
             search.env_var, " to the library file (last error: ", last_error, ")");
  }
  if (lib.path == search.soname && !search.probe.empty()) {  // report the file the loader picked
    Dl_info info{};
    void* sym = dlsym(lib.handle, search.probe.c_str());
    if (sym && dladdr(sym, &info) && info.dli_fname) lib.path = info.dli_fname;
  }
  return lib;
}

}  // namespace ae::cu
