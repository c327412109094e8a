// CUDA table vs CPU table: the sparse-code kernels (selections, the sparse decoder and its
// backward, the grouping by latent, sums per latent, JumpReLU's pieces), float32 and float64.
//
// Bounds. Selections copy values and name latents: indices, counts and selected values must match
// exactly. The decoder (sums in T), sparse_outer_grad and the biases (sums in float64) add the same
// terms in the same slot order with the same unfused roundings as the CPU, so they agree to the
// last rounding; elementwise_tol<T>() leaves room for one. sparse_decode_backward sums in float64
// in a different order (lanes, then a tree): float64 results differ by at most dim 2^-53 times the
// sum of the terms' magnitudes, float32 ones by one float rounding of that, both far below
// gemm_tol<T>(). jumprelu_threshold_grad differs by the last-place error of exp: elementwise_tol.
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

template <class T>
class BackendSparse : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BackendSparse, Dtypes);

constexpr int32_t kPoison = -7;  // int outputs start here: an unwritten element fails

std::vector<int32_t> poisoned_ints(int64_t n) {
  return std::vector<int32_t>(static_cast<size_t>(n), kPoison);
}

// EXPECT got == want element for element (no tolerance), naming the first difference.
template <class V>
void expect_same(const std::vector<V>& got, const std::vector<V>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", the CPU has " << want[i];
      return;
    }
}

// Values on a grid of 1/8 in [lo, hi): many ties, zeros of both signs.
template <class T>
std::vector<T> with_ties(int64_t n, double lo, double hi) {
  std::vector<T> v = uniform<T>(n, case_seed(), lo, hi);
  for (int64_t i = 0; i < n; ++i) {
    v[i] = static_cast<T>(std::floor(double(v[i]) * 8) / 8);
    if (v[i] == T(0) && i % 2) v[i] = -T(0);
  }
  return v;
}

// An index (rows, width) of latents < latents with about a fifth of the slots empty (-1).
// `distinct` names every latent at most once per row, as the selections do: row r holds
// (start_r + s) mod latents at slot s, slots beyond the latents empty.
std::vector<int32_t> random_index(int64_t rows, int64_t width, int64_t latents, bool distinct) {
  const std::vector<double> u = uniform<double>(rows * width, case_seed(), 0, 1);
  const std::vector<double> e = uniform<double>(rows * width, case_seed(), 0, 1);
  std::vector<int32_t> index(rows * width);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t s = 0; s < width; ++s) {
      const int64_t p = r * width + s;
      int64_t i = static_cast<int64_t>(u[p] * double(latents));
      if (distinct)
        i = s < latents ? (static_cast<int64_t>(u[r * width] * double(latents)) + s) % latents : -1;
      index[p] = e[p] < 0.2 ? -1 : static_cast<int32_t>(i);
    }
  return index;
}

template <class T>
std::string shape_name(const char* op, int64_t a, int64_t b, int64_t c, const char* extra = "") {
  return cat(op, " ", dtype_name(dtype_of<T>()), " (", a, ", ", b, ", ", c, ")", extra);
}

template <class T>
void check_topk_rows(int64_t rows, int64_t n, int64_t k, bool ties) {
  const DType dt = dtype_of<T>();
  const std::string what = shape_name<T>("topk_rows", rows, n, k, ties ? " ties" : "");
  const std::vector<T> x =
      ties ? with_ties<T>(rows * n, -1, 1) : uniform<T>(rows * n, case_seed(), -1, 1);
  std::vector<T> values(rows * k);
  std::vector<int32_t> index(rows * k);
  cpu().topk_rows(dt, x.data(), rows, n, k, values.data(), index.data(), nullptr);
  DeviceArray<T> d_x(x), d_values(rows * k);
  DeviceArray<int32_t> d_index(poisoned_ints(rows * k));
  gpu().topk_rows(dt, d_x.data(), rows, n, k, d_values.data(), d_index.data(), gpu_stream());
  expect_same(d_index.download(), index, what + " index");
  expect_same(d_values.download(), values, what + " values");
}

template <class T>
void check_kth_largest(int64_t count, bool ties) {
  const DType dt = dtype_of<T>();
  const std::vector<T> x =
      ties ? with_ties<T>(count, -4, 4) : uniform<T>(count, case_seed(), -4, 4);
  DeviceArray<T> d_x(x);
  for (int64_t k : {int64_t(1), (count + 1) / 2, std::min<int64_t>(count, 32 * 4096), count}) {
    T want{};
    cpu().kth_largest(dt, x.data(), count, k, &want, nullptr);
    DeviceArray<T> d_kth(1);
    gpu().kth_largest(dt, d_x.data(), count, k, d_kth.data(), gpu_stream());
    expect_same(d_kth.download(), std::vector<T>{want},
                cat("kth_largest ", dtype_name(dt), " count ", count, " k ", k,
                    ties ? " ties" : ""));
  }
}

// threshold_count, then threshold_select into the widest row's count of slots and 3 more, with
// and without x_at.
template <class T>
void check_threshold(int64_t rows, int64_t n, bool per_latent, double band, bool ties) {
  const DType dt = dtype_of<T>();
  const std::string what = cat("threshold ", dtype_name(dt), " (", rows, ", ", n, ")",
                               per_latent ? " per latent" : " one theta", " band ", band,
                               ties ? " ties" : "");
  // Thresholds in the top quarter of the values keep a few per row; ties put values on them.
  const std::vector<T> x =
      ties ? with_ties<T>(rows * n, -1, 1) : uniform<T>(rows * n, case_seed(), -1, 1);
  const int64_t thetas = per_latent ? n : 1;
  const std::vector<T> theta =
      ties ? with_ties<T>(thetas, 0.5, 1) : uniform<T>(thetas, case_seed(), 0.5, 1);
  std::vector<int32_t> counts(rows);
  cpu().threshold_count(dt, x.data(), rows, n, theta.data(), per_latent, band, counts.data(),
                        nullptr);
  DeviceArray<T> d_x(x), d_theta(theta);
  DeviceArray<int32_t> d_counts(poisoned_ints(rows));
  gpu().threshold_count(dt, d_x.data(), rows, n, d_theta.data(), per_latent, band,
                        d_counts.data(), gpu_stream());
  expect_same(d_counts.download(), counts, what + " counts");
  const int64_t widest = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  for (int64_t width : {widest, widest + 3})
    for (bool want_x_at : {true, false}) {
      const int64_t slots = rows * width;
      std::vector<T> values(slots), x_at(slots);
      std::vector<int32_t> index(slots);
      cpu().threshold_select(dt, x.data(), rows, n, theta.data(), per_latent, band, width,
                             values.data(), want_x_at ? x_at.data() : nullptr, index.data(),
                             nullptr);
      DeviceArray<T> d_values(slots), d_x_at(slots);
      DeviceArray<int32_t> d_index(poisoned_ints(slots));
      gpu().threshold_select(dt, d_x.data(), rows, n, d_theta.data(), per_latent, band, width,
                             d_values.data(), want_x_at ? d_x_at.data() : nullptr,
                             d_index.data(), gpu_stream());
      const std::string w = cat(what, " width ", width);
      expect_same(d_index.download(), index, w + " index");
      expect_same(d_values.download(), values, w + " values");
      if (want_x_at) expect_same(d_x_at.download(), x_at, w + " x_at");
    }
}

std::string decode_shape(DType dt, int64_t rows, int64_t width, int64_t latents, int64_t dim) {
  return cat(dtype_name(dt), " rows ", rows, " width ", width, " latents ", latents, " dim ", dim);
}

// sparse_decode with and without a bias, and sparse_to_dense, of one code.
template <class T>
void check_decode(int64_t rows, int64_t width, int64_t latents, int64_t dim) {
  const DType dt = dtype_of<T>();
  const std::string shape = decode_shape(dt, rows, width, latents, dim);
  const int64_t slots = rows * width;
  std::vector<T> values = uniform<T>(slots, case_seed(), -1, 2);
  for (int64_t p = 0; p < slots; p += 5) values[p] = 0;  // filled slots with value 0
  const std::vector<int32_t> index = random_index(rows, width, latents, true);
  const std::vector<T> w = uniform<T>(latents * dim, case_seed(), -1, 1);
  const std::vector<T> b = uniform<T>(dim, case_seed(), -1, 1);
  DeviceArray<T> d_values(values), d_w(w), d_b(b);
  DeviceArray<int32_t> d_index(index);
  for (bool has_bias : {true, false}) {
    std::vector<T> y(rows * dim);
    cpu().sparse_decode(dt, values.data(), index.data(), rows, width, w.data(), dim,
                        has_bias ? b.data() : nullptr, y.data(), nullptr);
    DeviceArray<T> d_y(rows * dim);
    gpu().sparse_decode(dt, d_values.data(), d_index.data(), rows, width, d_w.data(), dim,
                        has_bias ? d_b.data() : nullptr, d_y.data(), gpu_stream());
    expect_close(d_y.download(), y, elementwise_tol<T>(),
                 cat("sparse_decode ", shape, has_bias ? " bias" : ""));
  }
  std::vector<T> dense(rows * latents);
  cpu().sparse_to_dense(dt, values.data(), index.data(), rows, width, latents, dense.data(),
                        nullptr);
  DeviceArray<T> d_dense(rows * latents);
  gpu().sparse_to_dense(dt, d_values.data(), d_index.data(), rows, width, latents, d_dense.data(),
                        gpu_stream());
  expect_same(d_dense.download(), dense, "sparse_to_dense " + shape);
}

template <class T>
void check_decode_backward(int64_t rows, int64_t width, int64_t latents, int64_t dim) {
  const DType dt = dtype_of<T>();
  const std::vector<int32_t> index = random_index(rows, width, latents, false);
  const std::vector<T> w = uniform<T>(latents * dim, case_seed(), -1, 1);
  const std::vector<T> dy = uniform<T>(rows * dim, case_seed(), -1, 1);
  std::vector<T> dv(rows * width);
  cpu().sparse_decode_backward(dt, dy.data(), index.data(), rows, width, w.data(), dim, dv.data(),
                               nullptr);
  DeviceArray<T> d_dy(dy), d_w(w), d_dv(rows * width);
  DeviceArray<int32_t> d_index(index);
  gpu().sparse_decode_backward(dt, d_dy.data(), d_index.data(), rows, width, d_w.data(), dim,
                               d_dv.data(), gpu_stream());
  expect_close(d_dv.download(), dv, gemm_tol<T>(),
               "sparse_decode_backward " + decode_shape(dt, rows, width, latents, dim));
}

void check_group_by_latent(int64_t slots, int64_t latents) {
  const std::string what = cat("group_by_latent slots ", slots, " latents ", latents);
  const std::vector<int32_t> index = random_index(slots, 1, latents, false);
  const int64_t order_size = std::max<int64_t>(slots, 1);
  std::vector<int32_t> offsets(latents + 1), order(order_size, kPoison);
  cpu().group_by_latent(index.data(), slots, latents, offsets.data(), order.data(), nullptr);
  DeviceArray<int32_t> d_index(index), d_offsets(poisoned_ints(latents + 1)),
      d_order(poisoned_ints(order_size));
  gpu().group_by_latent(d_index.data(), slots, latents, d_offsets.data(), d_order.data(),
                        gpu_stream());
  expect_same(d_offsets.download(), offsets, what + " offsets");
  const std::vector<int32_t> got = d_order.download();
  const int64_t filled = offsets[latents];
  expect_same(std::vector<int32_t>(got.begin(), got.begin() + filled),
              std::vector<int32_t>(order.begin(), order.begin() + filled), what + " order");
}

// dW and db together, dW alone and db alone (no x, dim 0, as the op's bias and log θ calls make
// it), writing (beta 0: the NaN poison must be ignored) and accumulating (beta 1).
template <class T>
void check_outer_grad(int64_t rows, int64_t width, int64_t latents, int64_t dim) {
  const DType dt = dtype_of<T>();
  const int64_t slots = rows * width;
  const std::vector<int32_t> index = random_index(rows, width, latents, false);
  std::vector<int32_t> offsets(latents + 1), order(std::max<int64_t>(slots, 1));
  cpu().group_by_latent(index.data(), slots, latents, offsets.data(), order.data(), nullptr);
  std::vector<T> g = uniform<T>(slots, case_seed(), -1, 1);
  for (int64_t p = 0; p < slots; p += 7) g[p] = 0;  // terms that dW skips
  const std::vector<T> x = uniform<T>(rows * dim, case_seed(), -1, 1);
  DeviceArray<T> d_g(g), d_x(x);
  DeviceArray<int32_t> d_offsets(offsets), d_order(order);
  for (double beta : {0.0, 1.0})
    for (auto [want_dw, want_db] : {std::pair{true, true}, {true, false}, {false, true}}) {
      const std::string what =
          cat("sparse_outer_grad ", decode_shape(dt, rows, width, latents, dim), " beta ", beta,
              want_dw ? " dW" : "", want_db ? " db" : "");
      std::vector<T> dw = beta == 0 ? nan_vector<T>(latents * dim)
                                    : uniform<T>(latents * dim, case_seed(), -1, 1);
      std::vector<T> db =
          beta == 0 ? nan_vector<T>(latents) : uniform<T>(latents, case_seed(), -1, 1);
      DeviceArray<T> d_dw(dw), d_db(db);
      const int64_t d = want_dw ? dim : 0;
      cpu().sparse_outer_grad(dt, g.data(), offsets.data(), order.data(), width,
                              want_dw ? x.data() : nullptr, latents, d, beta,
                              want_dw ? dw.data() : nullptr, want_db ? db.data() : nullptr,
                              nullptr);
      gpu().sparse_outer_grad(dt, d_g.data(), d_offsets.data(), d_order.data(), width,
                              want_dw ? d_x.data() : nullptr, latents, d, beta,
                              want_dw ? d_dw.data() : nullptr, want_db ? d_db.data() : nullptr,
                              gpu_stream());
      if (want_dw) expect_close(d_dw.download(), dw, elementwise_tol<T>(), what + " (dW)");
      if (want_db) expect_close(d_db.download(), db, elementwise_tol<T>(), what + " (db)");
    }
}

template <class T>
void check_jumprelu(int64_t rows, int64_t width, int64_t latents) {
  const DType dt = dtype_of<T>();
  const double eps = 0.5;
  const int64_t slots = rows * width;
  const std::string shape =
      cat(dtype_name(dt), " rows ", rows, " width ", width, " latents ", latents);
  const std::vector<T> values = uniform<T>(slots, case_seed(), -1, 1);
  std::vector<T> l0(1);
  cpu().jumprelu_l0(dt, values.data(), slots, rows, l0.data(), nullptr);
  DeviceArray<T> d_values(values), d_l0(1);
  gpu().jumprelu_l0(dt, d_values.data(), slots, rows, d_l0.data(), gpu_stream());
  expect_same(d_l0.download(), l0, "jumprelu_l0 " + shape);

  // x_at within eps of theta at its latent: about half the slots fall in the kernel.
  const std::vector<int32_t> index = random_index(rows, width, latents, true);
  const std::vector<T> log_theta = uniform<T>(latents, case_seed(), -1, 0.5);
  const std::vector<T> jitter = uniform<T>(slots, case_seed(), -eps, eps);
  std::vector<T> x_at(slots, T(0));
  for (int64_t p = 0; p < slots; ++p)
    if (index[p] >= 0) x_at[p] = static_cast<T>(std::exp(double(log_theta[index[p]])) + jitter[p]);
  const std::vector<T> dv = uniform<T>(slots, case_seed(), -1, 1), dl0 = {T(0.3)};
  DeviceArray<T> d_dv(dv), d_dl0(dl0), d_x_at(x_at), d_log_theta(log_theta);
  DeviceArray<int32_t> d_index(index);
  for (auto [has_dv, has_dl0] : {std::pair{true, true}, {true, false}, {false, true}}) {
    std::vector<T> g(slots);
    cpu().jumprelu_threshold_grad(dt, has_dv ? dv.data() : nullptr, has_dl0 ? dl0.data() : nullptr,
                                  x_at.data(), index.data(), rows, width, log_theta.data(), eps,
                                  g.data(), nullptr);
    DeviceArray<T> d_g(slots);
    gpu().jumprelu_threshold_grad(dt, has_dv ? d_dv.data() : nullptr,
                                  has_dl0 ? d_dl0.data() : nullptr, d_x_at.data(), d_index.data(),
                                  rows, width, d_log_theta.data(), eps, d_g.data(), gpu_stream());
    expect_close(d_g.download(), g, elementwise_tol<T>(),
                 cat("jumprelu_threshold_grad ", shape, has_dv ? " dv" : "",
                     has_dl0 ? " dl0" : ""));
  }
}

// Unit-norm rows: the row's float64 dot product summed in another order than the CPU's (8
// interleaved partial sums there, a block reduction here), so results agree to the dtype's
// elementwise bound.
template <class T>
void check_unit_rows(int64_t rows, int64_t cols) {
  const DType dt = dtype_of<T>();
  const std::string shape = cat(dtype_name(dt), " (", rows, ", ", cols, ")");
  std::vector<T> w = uniform<T>(rows * cols, case_seed(), -1, 1);
  if (rows > 1) std::fill(w.begin() + cols, w.begin() + 2 * cols, T(0));  // a zero row stays zero
  std::vector<T> w_cpu = w;
  cpu().row_normalize(dt, w_cpu.data(), rows, cols, nullptr);
  DeviceArray<T> d_w(w);
  gpu().row_normalize(dt, d_w.data(), rows, cols, gpu_stream());
  expect_close(d_w.download(), w_cpu, elementwise_tol<T>(), "row_normalize " + shape);
  const std::vector<T> g = uniform<T>(rows * cols, case_seed(), -1, 1);
  std::vector<T> g_cpu = g;
  cpu().row_project_out(dt, w_cpu.data(), g_cpu.data(), rows, cols, nullptr);
  DeviceArray<T> d_unit(w_cpu), d_g(g);
  gpu().row_project_out(dt, d_unit.data(), d_g.data(), rows, cols, gpu_stream());
  expect_close(d_g.download(), g_cpu, elementwise_tol<T>(), "row_project_out " + shape);
}

// (rows, width, latents, dim) of the decoder and gradient tests.
const std::tuple<int64_t, int64_t, int64_t, int64_t> kDecodeShapes[] = {
    {1, 1, 1, 1}, {1, 5, 7, 33}, {7, 5, 100, 1}, {33, 32, 100, 768}, {33, 7, 31, 65}};

TYPED_TEST(BackendSparse, TopkRows) {
  // (rows, n, k): 1x1, k = n, k = 1, n not a multiple of 32, k at the largest in-block sort,
  // and past it (the segmented-sort path).
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {
      {1, 1, 1},      {1, 7, 7},      {7, 33, 1},      {7, 33, 5},     {33, 100, 32},
      {33, 100, 100}, {7, 2048, 2048}, {7, 3001, 2500}, {1, 2049, 2049}};
  for (auto [rows, n, k] : shapes)
    for (bool ties : {false, true}) check_topk_rows<TypeParam>(rows, n, k, ties);
}

TYPED_TEST(BackendSparse, KthLargest) {
  for (int64_t count : {1, 7, 33, 1000, 100003})
    for (bool ties : {false, true}) check_kth_largest<TypeParam>(count, ties);
}

TYPED_TEST(BackendSparse, ThresholdCountAndSelect) {
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{1, 1}, {1, 33}, {7, 100}, {33, 31}})
    for (bool per_latent : {false, true})
      for (double band : {0.0, 0.25})
        for (bool ties : {false, true}) check_threshold<TypeParam>(rows, n, per_latent, band, ties);
}

TYPED_TEST(BackendSparse, SparseDecodeAndToDense) {
  for (auto [rows, width, latents, dim] : kDecodeShapes)
    check_decode<TypeParam>(rows, width, latents, dim);
}

TYPED_TEST(BackendSparse, SparseDecodeBackward) {
  for (auto [rows, width, latents, dim] : kDecodeShapes)
    check_decode_backward<TypeParam>(rows, width, latents, dim);
}

TEST(BackendSparseGrouping, GroupByLatent) {
  // No slot, one latent, more latents than slots, more slots than latents.
  for (auto [slots, latents] : {std::pair<int64_t, int64_t>{0, 5}, {1, 1}, {7, 1}, {33, 100},
                                {1000, 7}})
    check_group_by_latent(slots, latents);
}

TYPED_TEST(BackendSparse, SparseOuterGrad) {
  for (auto [rows, width, latents, dim] : kDecodeShapes)
    check_outer_grad<TypeParam>(rows, width, latents, dim);
}

TYPED_TEST(BackendSparse, JumpreluL0AndThresholdGrad) {
  for (auto [rows, width, latents] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 5, 33}, {33, 40, 100}})
    check_jumprelu<TypeParam>(rows, width, latents);
}

TYPED_TEST(BackendSparse, UnitNormRows) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {33, 768}, {100, 257},
                            {16384, 768}})
    check_unit_rows<TypeParam>(rows, cols);
}

// The sizes of a sparse autoencoder's step: a batch of 4096, 16384 (65536) latents, k = 32,
// dim 768. Outside the memcheck and racecheck filters (bench/gpu_check.sh): host references of
// 2^26 elements.
template <class T>
class BackendSparseLarge : public ::testing::Test {};
TYPED_TEST_SUITE(BackendSparseLarge, Dtypes);

TYPED_TEST(BackendSparseLarge, TargetSizes) {
  using T = TypeParam;
  const int64_t rows = 4096, latents = 16384, k = 32, dim = 768;
  check_topk_rows<T>(rows, latents, k, false);
  check_topk_rows<T>(rows, latents, k, true);
  check_kth_largest<T>(rows * latents, false);
  check_threshold<T>(rows, latents, true, 0.25, false);
  check_decode<T>(rows, k, latents, dim);
  check_decode_backward<T>(rows, k, latents, dim);
  check_outer_grad<T>(rows, k, latents, dim);
  check_jumprelu<T>(rows, 64, latents);
  if (std::is_same_v<T, float>) {
    check_group_by_latent(rows * k, latents);
    check_group_by_latent(rows * k, 4 * latents);
  }
}

}  // namespace
}  // namespace ae::gputest
