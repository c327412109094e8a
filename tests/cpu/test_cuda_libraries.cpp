// The loaders of cuBLAS and NCCL (kernels/cuda/cublas_lib.h, nccl_lib.h) in a build with the CUDA
// backend: they need no GPU, so they are checked here. A CPU-only process never loads cuBLAS; an
// unusable library is a one-line error naming it.
#if AE_HAVE_CUDA
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "kernels/cuda/cublas_lib.h"
#include "kernels/cuda/nccl_lib.h"

namespace {

// Sets a library's environment variable (AE_CUBLAS, AE_NCCL) for one scope.
struct ForcedLibrary {
  ForcedLibrary(const char* var, const std::string& path) : var_(var) { setenv(var, path.c_str(), 1); }
  ~ForcedLibrary() { unsetenv(var_); }
  const char* var_;
};
struct ForcedCublas : ForcedLibrary {
  explicit ForcedCublas(const std::string& path) : ForcedLibrary("AE_CUBLAS", path) {}
};

TEST(CublasLib, CpuWorkDoesNotLoadIt) {
  const ae::Tensor a = ae::Tensor::randn({8, 8}, 3, 0, ae::DType::f32, ae::Device::cpu());
  const ae::Tensor c = ae::matmul(a, a);
  EXPECT_EQ(c.shape(), ae::Shape({8, 8}));
  EXPECT_EQ(ae::cu::cublas_if_loaded(), nullptr);
  const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  EXPECT_EQ(dlopen(soname.c_str(), RTLD_NOW | RTLD_NOLOAD), nullptr) << soname << " is mapped";
}

TEST(CublasLib, MissingFileIsOneLineErrorNamingIt) {
  ForcedCublas forced("/nonexistent/libcublas.so.13");
  try {
    ae::cu::open_cublas();
    FAIL() << "a missing cuBLAS loaded";
  } catch (const ae::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("AE_CUBLAS=/nonexistent/libcublas.so.13 could not be loaded"),
              std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(CublasLib, NotCublasIsOneLineError) {
  // A real shared library that is not cuBLAS: the first missing function is named.
  ForcedCublas forced("libz.so.1");
  try {
    ae::cu::open_cublas();
    FAIL() << "zlib was taken for cuBLAS";
  } catch (const ae::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("lacks cublasCreate_v2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(CublasLib, ToolkitLibraryResolvesEveryFunction) {
  const std::string file = "/usr/local/cuda/lib64/libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is not installed";
  ForcedCublas forced(file);
  const ae::cu::CublasApi api = ae::cu::open_cublas();
  EXPECT_EQ(api.path, file);
  EXPECT_NE(api.cublasSgemm, nullptr);
  EXPECT_NE(api.cublasDgemm, nullptr);
  EXPECT_STREQ(api.cublasGetStatusName(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
}

#if AE_HAVE_NCCL
TEST(NcclLib, MissingFileIsOneLineErrorNamingIt) {
  ForcedLibrary forced("AE_NCCL", "/nonexistent/libnccl.so.2");
  try {
    ae::cu::open_nccl();
    FAIL() << "a missing NCCL loaded";
  } catch (const ae::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("NCCL: AE_NCCL=/nonexistent/libnccl.so.2 could not be loaded"),
              std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(NcclLib, NotNcclIsOneLineError) {
  ForcedLibrary forced("AE_NCCL", "libz.so.1");
  try {
    ae::cu::open_nccl();
    FAIL() << "zlib was taken for NCCL";
  } catch (const ae::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("lacks ncclGetVersion"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// Loading NCCL and asking its version needs no GPU; the major version is the one ae was built for.
TEST(NcclLib, ToolkitLibraryResolvesEveryFunction) {
  const std::string file = "/usr/local/cuda/lib64/libnccl.so." + std::to_string(NCCL_MAJOR);
  if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is not installed";
  ForcedLibrary forced("AE_NCCL", file);
  const ae::cu::NcclApi api = ae::cu::open_nccl();
  EXPECT_EQ(api.path, file);
  EXPECT_EQ(api.version / 10000, NCCL_MAJOR);
  EXPECT_NE(api.ncclAllReduce, nullptr);
  EXPECT_TRUE(std::string(api.ncclGetErrorString(ncclInvalidArgument)).starts_with("invalid argument"));
}
#endif

}  // namespace
#endif
