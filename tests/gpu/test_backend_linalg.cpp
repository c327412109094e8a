// CUDA table vs CPU table: GEMM, transpose, copy_block, reduce_sum and expand, plus the device,
// stream and memory entries. float32 and float64.
#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

template <class T>
class BackendLinalg : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BackendLinalg, Dtypes);

// --- devices, streams, memory ------------------------------------------------------------------

TEST(BackendMemory, DeviceStreamAllocCopy) {
  EXPECT_GE(gpu().device_count(), 1);
  Stream s = gpu().stream(0);
  EXPECT_NE(s, nullptr);
  EXPECT_EQ(gpu().stream(0), s) << "one stream per device";
  EXPECT_EQ(gpu().alloc(0, 0, s), nullptr);
  gpu().free(nullptr, 0, s);  // a no-op

  for (size_t bytes : {size_t(1), size_t(3), size_t(17), size_t(4096), size_t(1000003)}) {
    std::vector<unsigned char> src(bytes), back(bytes, 0);
    for (size_t i = 0; i < bytes; ++i)
      src[i] = static_cast<unsigned char>(uniform_at(case_seed(), i, 0, 256));
    void* a = gpu().alloc(bytes, 0, s);
    void* b = gpu().alloc(bytes, 0, s);
    ASSERT_NE(a, nullptr);
    gpu().copy(a, src.data(), bytes, CopyKind::host_to_device, s);
    gpu().copy(b, a, bytes, CopyKind::device_to_device, s);
    gpu().copy(back.data(), b, bytes, CopyKind::device_to_host, s);
    gpu().synchronize(s);
    EXPECT_EQ(std::memcmp(src.data(), back.data(), bytes), 0) << bytes << " bytes";
    gpu().free(a, 0, s);
    gpu().free(b, 0, s);
  }
}

TEST(BackendMemory, OutOfMemoryIsAnError) {
  const size_t bytes = size_t(1) << 50;  // a petabyte
  try {
    void* p = gpu().alloc(bytes, 0, gpu_stream());
    gpu().free(p, 0, gpu_stream());
    FAIL() << "allocating 2^50 bytes succeeded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(std::to_string(bytes)), std::string::npos) << msg;
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  }
  // The device is still usable afterwards.
  DeviceArray<float> ok(std::vector<float>{1, 2, 3});
  EXPECT_EQ(ok.download(), (std::vector<float>{1, 2, 3}));
}

TEST(BackendMemory, BadDeviceIsAnError) {
  const int count = gpu().device_count();
  EXPECT_THROW(gpu().stream(count), Error);
  EXPECT_THROW(gpu().alloc(16, count, gpu_stream()), Error);
}

// --- gemm ------------------------------------------------------------------------------------

// C = alpha op(A) op(B) + beta C on both backends; beta == 0 must not read C (it is NaN then).
template <class T>
void check_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, double beta) {
  const DType dt = dtype_of<T>();
  std::vector<T> a = uniform<T>(m * k, case_seed(), -1, 1), b = uniform<T>(k * n, case_seed(), -1, 1);
  std::vector<T> c = beta == 0 ? nan_vector<T>(m * n) : uniform<T>(m * n, case_seed(), -1, 1);
  DeviceArray<T> d_a(a), d_b(b), d_c(c);
  gpu().gemm(dt, ta, tb, m, n, k, alpha, d_a.data(), d_b.data(), beta, d_c.data(), gpu_stream());
  cpu().gemm(dt, ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c.data(), nullptr);
  expect_close(d_c.download(), c, gemm_tol<T>(),
               cat("gemm ", dtype_name(dt), " trans_a=", ta, " trans_b=", tb, " m=", m, " n=", n,
                   " k=", k, " alpha=", alpha, " beta=", beta));
}

TYPED_TEST(BackendLinalg, Gemm) {
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {
      {1, 1, 1},     {1, 7, 3},       {7, 1, 5},      {5, 3, 1},       {33, 31, 17},
      {128, 128, 128}, {129, 127, 131}, {256, 32, 256}, {256, 512, 784}, {256, 784, 512},
      {784, 512, 256}, {1000, 3, 999}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [m, n, k] : shapes) {
        check_gemm<TypeParam>(ta, tb, m, n, k, 1.0, 0.0);
        check_gemm<TypeParam>(ta, tb, m, n, k, 0.5, 1.5);
      }
}

TYPED_TEST(BackendLinalg, GemmEmpty) {
  using T = TypeParam;
  for (double beta : {0.0, 2.0}) check_gemm<T>(false, false, 5, 7, 0, 1.0, beta);  // C = beta C
  // m == 0 or n == 0: nothing to write, nothing read.
  gpu().gemm(dtype_of<T>(), false, false, 0, 7, 5, 1.0, nullptr, nullptr, 0.0, nullptr,
             gpu_stream());
  gpu().gemm(dtype_of<T>(), false, false, 7, 0, 5, 1.0, nullptr, nullptr, 0.0, nullptr,
             gpu_stream());
  gpu().synchronize(gpu_stream());
}

// 4096^3: the reference is computed for a few bands of rows of C only (the CPU GEMM of the whole
// product would take minutes); each band still covers every column and the whole k.
TYPED_TEST(BackendLinalg, GemmLarge) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const int64_t m = 4096, n = 4096, k = 4096, band = 64;
  for (bool tb : {false, true}) {
    std::vector<T> a = uniform<T>(m * k, case_seed(), -1, 1), b = uniform<T>(k * n, case_seed(), -1, 1);
    DeviceArray<T> d_a(a), d_b(b), d_c(m * n);
    gpu().gemm(dt, false, tb, m, n, k, 1.0, d_a.data(), d_b.data(), 0.0, d_c.data(), gpu_stream());
    const std::vector<T> c = d_c.download();
    for (int64_t r0 : {int64_t(0), m / 2 - band / 2, m - band}) {
      std::vector<T> want(band * n);
      cpu().gemm(dt, false, tb, band, n, k, 1.0, a.data() + r0 * k, b.data(), 0.0, want.data(),
                 nullptr);
      std::vector<T> got(c.begin() + r0 * n, c.begin() + (r0 + band) * n);
      expect_close(got, want, gemm_tol<T>(),
                   cat("gemm 4096^3 ", dtype_name(dt), " trans_b=", tb, " rows ", r0, "+", band));
    }
  }
}

TEST(BackendLinalgErrors, GemmTooLarge) {
  try {
    gpu().gemm(DType::f32, false, false, int64_t(1) << 32, 1, 1, 1.0, nullptr, nullptr, 0.0,
               nullptr, gpu_stream());
    FAIL() << "no error for m = 2^32";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m=4294967296"), std::string::npos) << e.what();
  }
}

// --- transpose, copy_block -------------------------------------------------------------------

// (4097, 4099) has more tiles (16641) than the grid has blocks (8448 on an H100): blocks loop over
// several tiles.
TYPED_TEST(BackendLinalg, Transpose) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1},   {1, 33},  {33, 1},    {31, 33},
                                                {64, 64}, {1000, 3}, {4097, 129}, {784, 256},
                                                {256, 784}, {2048, 4096}, {4097, 4099}};
  for (auto [rows, cols] : shapes) {
    std::vector<T> x = uniform<T>(rows * cols, case_seed(), -1, 1), want(rows * cols);
    cpu().transpose(dt, x.data(), want.data(), rows, cols, nullptr);
    DeviceArray<T> d_x(x), d_y(rows * cols);
    gpu().transpose(dt, d_x.data(), d_y.data(), rows, cols, gpu_stream());
    expect_close(d_y.download(), want, 0.0,
                 cat("transpose ", dtype_name(dt), " (", rows, ", ", cols, ")"));
  }
}

TYPED_TEST(BackendLinalg, CopyBlock) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Case {
    int64_t rows, cols, src_ld, dst_ld, src_off, dst_off;
  };
  const Case cases[] = {
      {1, 1, 1, 1, 0, 0},        {5, 3, 7, 9, 1, 2},       {64, 32, 784, 32, 0, 0},
      {64, 32, 32, 784, 0, 100}, {17, 8, 16, 24, 0, 0},   {17, 8, 16, 24, 4, 8},
      {256, 784, 784, 800, 0, 16}, {1000, 33, 33, 33, 0, 0}, {3, 4099, 5000, 4100, 7, 1}};
  for (const Case& c : cases) {
    const int64_t src_n = c.src_off + (c.rows - 1) * c.src_ld + c.cols;
    const int64_t dst_n = c.dst_off + (c.rows - 1) * c.dst_ld + c.cols + 5;
    // dst starts random (not NaN): the elements outside the block must keep their values.
    std::vector<T> src = uniform<T>(src_n, case_seed(), -1, 1), dst = uniform<T>(dst_n, case_seed(), -1, 1);
    DeviceArray<T> d_src(src), d_dst(dst);
    cpu().copy_block(dt, src.data() + c.src_off, c.src_ld, dst.data() + c.dst_off, c.dst_ld,
                     c.rows, c.cols, nullptr);
    gpu().copy_block(dt, d_src.data() + c.src_off, c.src_ld, d_dst.data() + c.dst_off, c.dst_ld,
                     c.rows, c.cols, gpu_stream());
    expect_close(d_dst.download(), dst, 0.0,
                 cat("copy_block ", dtype_name(dt), " (", c.rows, ", ", c.cols, ") ld ", c.src_ld,
                     " -> ", c.dst_ld, " offsets ", c.src_off, " -> ", c.dst_off));
  }
}

// --- reduce_sum, expand ------------------------------------------------------------------------

// (outer, n, inner): row sums (inner 1), column sums (outer 1), middle axes, the full sum, and
// shapes that take the two-pass split (few outputs, long n).
const std::tuple<int64_t, int64_t, int64_t> kReduceShapes[] = {
    {1, 1, 1},       {1, 7, 1},      {7, 1, 1},     {1, 1, 7},       {7, 5, 3},
    {1000, 1, 1},    {4096, 784, 1}, {256, 32, 1},  {1, 4096, 784},  {1, 256, 32},
    {1, 4096, 1},    {1, 100003, 1}, {3, 1000, 33}, {2, 3, 65536},   {5, 20000, 2},
    {1, (1 << 20) + 3, 1}, {1, 65537, 31}, {129, 4099, 1}, {1, 33, 129}};

TYPED_TEST(BackendLinalg, ReduceSum) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (auto [outer, n, inner] : kReduceShapes)
    for (double scale : {1.0, 1.0 / 3.0}) {
      // Mixed signs for float32; one sign for float64 (see sum_tol).
      std::vector<T> x = uniform<T>(outer * n * inner, case_seed(), std::is_same_v<T, float> ? -1 : 0, 1);
      std::vector<T> want(outer * inner);
      cpu().reduce_sum(dt, x.data(), want.data(), outer, n, inner, scale, nullptr);
      DeviceArray<T> d_x(x), d_y(outer * inner);
      gpu().reduce_sum(dt, d_x.data(), d_y.data(), outer, n, inner, scale, gpu_stream());
      expect_close(d_y.download(), want, sum_tol<T>(n),
                   cat("reduce_sum ", dtype_name(dt), " (", outer, ", ", n, ", ", inner,
                       ") scale ", scale));
    }
}

TYPED_TEST(BackendLinalg, ReduceSumEmptyIsZero) {
  using T = TypeParam;
  DeviceArray<T> d_y(6);
  gpu().reduce_sum(dtype_of<T>(), nullptr, d_y.data(), 2, 0, 3, 1.0, gpu_stream());
  expect_close(d_y.download(), std::vector<T>(6, T(0)), 0.0, "reduce_sum over n = 0");
}

// Sums are reproducible bit for bit from run to run (no atomics in the accumulation).
TYPED_TEST(BackendLinalg, ReduceSumIsDeterministic) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (auto [outer, n, inner] : {std::tuple<int64_t, int64_t, int64_t>{1, int64_t(1) << 24, 1},
                                 {1, 1 << 16, 257}}) {
    std::vector<T> x = uniform<T>(outer * n * inner, case_seed(), -1, 1);
    DeviceArray<T> d_x(x), d_y1(outer * inner), d_y2(outer * inner);
    gpu().reduce_sum(dt, d_x.data(), d_y1.data(), outer, n, inner, 1.0, gpu_stream());
    gpu().reduce_sum(dt, d_x.data(), d_y2.data(), outer, n, inner, 1.0, gpu_stream());
    const std::vector<T> y1 = d_y1.download(), y2 = d_y2.download();
    EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(T)), 0)
        << "reduce_sum (" << outer << ", " << n << ", " << inner << ") differs between runs";
  }
}

// 2^26 elements as a full sum and as column sums; and 2^27 + 5 as a full sum, whose chunks
// (n / resident warps >= 8192 on any device with fewer than 16384 resident warps; an H100 has
// at most 8448) take the path where a whole block, not one warp, sums each chunk.
TYPED_TEST(BackendLinalg, ReduceSumLarge) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (auto [outer, n, inner] : {std::tuple<int64_t, int64_t, int64_t>{1, int64_t(1) << 26, 1},
                                 {1, 1 << 14, 1 << 12}, {1 << 16, 1 << 10, 1},
                                 {1, (int64_t(1) << 27) + 5, 1}}) {
    std::vector<T> x = uniform<T>(outer * n * inner, case_seed(), std::is_same_v<T, float> ? -1 : 0, 1);
    std::vector<T> want(outer * inner);
    cpu().reduce_sum(dt, x.data(), want.data(), outer, n, inner, 1.0, nullptr);
    DeviceArray<T> d_x(x), d_y(outer * inner);
    gpu().reduce_sum(dt, d_x.data(), d_y.data(), outer, n, inner, 1.0, gpu_stream());
    expect_close(d_y.download(), want, sum_tol<T>(n),
                 cat("reduce_sum ", dtype_name(dt), " (", outer, ", ", n, ", ", inner, ")"));
  }
}

TYPED_TEST(BackendLinalg, Expand) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (auto [outer, n, inner] : kReduceShapes)
    for (int64_t pad : {0, 1}) {
      std::vector<T> x = uniform<T>(outer * inner, case_seed(), -1, 1), want(outer * n * inner);
      cpu().expand(dt, x.data(), want.data(), outer, n, inner, 0.25, nullptr);
      DeviceArray<T> d_x(x, pad), d_y(outer * n * inner, pad);
      gpu().expand(dt, d_x.data(), d_y.data(), outer, n, inner, 0.25, gpu_stream());
      expect_close(d_y.download(), want, 0.0,
                   cat("expand ", dtype_name(dt), " (", outer, ", ", n, ", ", inner, ") pad=", pad));
    }
}

}  // namespace
}  // namespace ae::gputest
