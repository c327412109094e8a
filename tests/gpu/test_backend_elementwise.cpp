// CUDA table vs CPU table: fills, casts, elementwise ops, losses and optimizer updates, forward
// and backward, float32 and float64, sizes from 1 to 2^26 (and beyond 2^31 and 2^32), with 16-byte
// aligned pointers (the packed path) and misaligned ones (pad = 1: the scalar path).
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "tests/gpu/harness.h"

namespace ae::gputest {
namespace {

// 1, odd sizes, around the warp (32) and the packed block (128 floats = 32 packs), not multiples
// of 32 or 128, and one large enough for the grid-stride loops to wrap several times.
constexpr int64_t kSizes[] = {1, 2, 3, 7, 31, 32, 33, 127, 128, 129, 1000, 4099, 65537,
                              (1 << 20) + 3};
constexpr int64_t kPads[] = {0, 1};

template <class T>
class BackendElementwise : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BackendElementwise, Dtypes);

std::string label(const std::string& what, DType dt, int64_t n, int64_t pad) {
  return cat(what, " ", dtype_name(dt), " n=", n, " pad=", pad);
}

// The domain of each unary op's test inputs, its parameters, and inputs placed at the start of
// the array on purpose: the kinks (abs, relu at 0; clamp at its bounds) and exact values.
struct UnaryCase {
  UnaryOp op;
  UnaryParams p;
  double lo, hi;
  std::vector<double> edges;
};

std::vector<UnaryCase> unary_cases() {
  std::vector<UnaryCase> cases;
  for (UnaryOp op : kUnaryOps) {
    switch (op) {
      case UnaryOp::neg: cases.push_back({op, {}, -5, 5, {0}}); break;
      case UnaryOp::exp: cases.push_back({op, {}, -10, 10, {0}}); break;
      case UnaryOp::log: cases.push_back({op, {}, 0.01, 10, {1}}); break;
      case UnaryOp::square: cases.push_back({op, {}, -5, 5, {0}}); break;
      case UnaryOp::sqrt: cases.push_back({op, {}, 0.01, 10, {1, 4}}); break;
      case UnaryOp::abs: cases.push_back({op, {}, -5, 5, {0, -0.0}}); break;
      case UnaryOp::pow:
        cases.push_back({op, {2.5}, 0.05, 3, {1}});
        cases.push_back({op, {-1.5}, 0.1, 3, {1}});
        cases.push_back({op, {0.5}, 0.05, 3, {4}});
        // Negative bases with integer exponents are defined (and keep their sign).
        cases.push_back({op, {3}, -2, 2, {-1, 0, -2}});
        cases.push_back({op, {2}, -3, 3, {-1, 0}});
        break;
      case UnaryOp::clamp: cases.push_back({op, {-0.5, 0.75}, -2, 2, {-0.5, 0.75, 0}}); break;
      case UnaryOp::affine: cases.push_back({op, {1.7, -0.3}, -5, 5, {0}}); break;
      case UnaryOp::sigmoid: cases.push_back({op, {}, -30, 30, {0}}); break;
      case UnaryOp::tanh: cases.push_back({op, {}, -6, 6, {0}}); break;
      case UnaryOp::relu: cases.push_back({op, {}, -5, 5, {0}}); break;
      case UnaryOp::leaky_relu: cases.push_back({op, {0.1}, -5, 5, {0}}); break;
      case UnaryOp::softplus: cases.push_back({op, {}, -30, 30, {0}}); break;
      case UnaryOp::identity: cases.push_back({op, {}, -5, 5, {}}); break;
    }
  }
  return cases;
}

template <class T>
std::vector<T> unary_input(const UnaryCase& c, int64_t n) {
  std::vector<T> x = uniform<T>(n, case_seed(), c.lo, c.hi);
  for (size_t i = 0; i < c.edges.size() && i < x.size(); ++i) x[i] = static_cast<T>(c.edges[i]);
  return x;
}

// Forward and backward of one unary op on n elements.
template <class T>
void check_unary(const UnaryCase& c, int64_t n, int64_t pad) {
  const DType dt = dtype_of<T>();
  const std::string name = cat(op_name(c.op), "(a=", c.p.a, ", b=", c.p.b, ")");
  std::vector<T> x = unary_input<T>(c, n);
  std::vector<T> dy = uniform<T>(n, case_seed(), -1, 1);
  std::vector<T> y_ref(n), dx_ref(n);
  cpu().unary_forward(c.op, dt, x.data(), y_ref.data(), n, c.p, nullptr);
  cpu().unary_backward(c.op, dt, x.data(), y_ref.data(), dy.data(), dx_ref.data(), n, c.p,
                       nullptr);

  DeviceArray<T> d_x(x, pad), d_y(n, pad), d_yref(y_ref, pad), d_dy(dy, pad), d_dx(n, pad);
  gpu().unary_forward(c.op, dt, d_x.data(), d_y.data(), n, c.p, gpu_stream());
  expect_close(d_y.download(), y_ref, elementwise_tol<T>(),
               label("unary_forward " + name, dt, n, pad));
  // Backward from the reference y, so that the two backends see the same inputs.
  gpu().unary_backward(c.op, dt, d_x.data(), d_yref.data(), d_dy.data(), d_dx.data(), n, c.p,
                       gpu_stream());
  expect_close(d_dx.download(), dx_ref, elementwise_tol<T>(),
               label("unary_backward " + name, dt, n, pad));
}

TYPED_TEST(BackendElementwise, UnaryForwardBackward) {
  for (const UnaryCase& c : unary_cases())
    for (int64_t n : kSizes)
      for (int64_t pad : kPads) check_unary<TypeParam>(c, n, pad);
}

TYPED_TEST(BackendElementwise, UnaryInPlace) {  // y may be x
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (const UnaryCase& c : unary_cases()) {
    const int64_t n = 4099;
    std::vector<T> x = unary_input<T>(c, n), want(n);
    cpu().unary_forward(c.op, dt, x.data(), want.data(), n, c.p, nullptr);
    DeviceArray<T> d_x(x);
    gpu().unary_forward(c.op, dt, d_x.data(), d_x.data(), n, c.p, gpu_stream());
    expect_close(d_x.download(), want, elementwise_tol<T>(),
                 label(cat("in-place unary_forward ", op_name(c.op)), dt, n, 0));
  }
}

// b for div is kept away from zero.
template <class T>
std::vector<T> binary_rhs(BinaryOp op, int64_t n) {
  std::vector<T> b = uniform<T>(n, case_seed(), -2, 2);
  if (op == BinaryOp::div)
    for (T& v : b) v = v >= 0 ? v + T(0.5) : v - T(0.5);
  return b;
}

TYPED_TEST(BackendElementwise, Binary) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1},    {1, 7},     {7, 1},   {3, 4},
                                                {33, 31},  {129, 128}, {256, 784}, {1000, 33},
                                                {3, 4099}, {4097, 5},  {513, 2049}};
  for (BinaryOp op : kBinaryOps)
    for (Broadcast bc : {Broadcast::none, Broadcast::row})
      for (auto [rows, cols] : shapes)
        for (int64_t pad : kPads) {
          const int64_t n = rows * cols, nb = bc == Broadcast::row ? cols : n;
          std::vector<T> a = uniform<T>(n, case_seed(), -3, 3), b = binary_rhs<T>(op, nb);
          std::vector<T> want(n);
          cpu().binary_forward(op, dt, a.data(), b.data(), want.data(), rows, cols, bc, nullptr);
          DeviceArray<T> d_a(a, pad), d_b(b, pad), d_y(n, pad);
          gpu().binary_forward(op, dt, d_a.data(), d_b.data(), d_y.data(), rows, cols, bc,
                               gpu_stream());
          expect_close(d_y.download(), want, elementwise_tol<T>(),
                       cat("binary_forward ", op_name(op),
                           bc == Broadcast::row ? " row broadcast " : " ", dtype_name(dt), " (",
                           rows, ", ", cols, ") pad=", pad));
        }
}

// pred and target of each loss, inside the loss's domain.
template <class T>
std::pair<std::vector<T>, std::vector<T>> loss_inputs(LossOp op, int64_t n) {
  switch (op) {
    case LossOp::bce:
      return {uniform<T>(n, case_seed(), 1e-3, 1 - 1e-3), uniform<T>(n, case_seed(), 0, 1)};
    case LossOp::bce_with_logits:
      return {uniform<T>(n, case_seed(), -20, 20), uniform<T>(n, case_seed(), 0, 1)};
    case LossOp::squared_error:
    case LossOp::absolute_error: break;
  }
  std::vector<T> p = uniform<T>(n, case_seed(), -3, 3), t = uniform<T>(n, case_seed(), -3, 3);
  if (n > 1) t[1] = p[1];  // the kink of absolute_error
  return {p, t};
}

template <class T>
void check_loss(LossOp op, const std::vector<T>& p, const std::vector<T>& t, int64_t pad,
                const std::string& what) {
  const DType dt = dtype_of<T>();
  const int64_t n = static_cast<int64_t>(p.size());
  std::vector<T> dy = uniform<T>(n, case_seed(), -1, 1), y_ref(n), dp_ref(n);
  cpu().loss_forward(op, dt, p.data(), t.data(), y_ref.data(), n, nullptr);
  cpu().loss_backward(op, dt, p.data(), t.data(), dy.data(), dp_ref.data(), n, nullptr);
  DeviceArray<T> d_p(p, pad), d_t(t, pad), d_dy(dy, pad), d_y(n, pad), d_dp(n, pad);
  gpu().loss_forward(op, dt, d_p.data(), d_t.data(), d_y.data(), n, gpu_stream());
  expect_close(d_y.download(), y_ref, elementwise_tol<T>(),
               label(cat("loss_forward ", op_name(op), what), dt, n, pad));
  gpu().loss_backward(op, dt, d_p.data(), d_t.data(), d_dy.data(), d_dp.data(), n, gpu_stream());
  expect_close(d_dp.download(), dp_ref, elementwise_tol<T>(),
               label(cat("loss_backward ", op_name(op), what), dt, n, pad));
}

TYPED_TEST(BackendElementwise, LossForwardBackward) {
  for (LossOp op : kLossOps)
    for (int64_t n : kSizes)
      for (int64_t pad : kPads) {
        auto [p, t] = loss_inputs<TypeParam>(op, n);
        check_loss<TypeParam>(op, p, t, pad, "");
      }
}

// The kProbEps clamp of bce: p = 0 and p = 1 give large but finite losses and gradients.
TYPED_TEST(BackendElementwise, BceAtProbabilityEdges) {
  using T = TypeParam;
  const std::vector<T> p = {0, 1, T(1e-13), T(1e-12), T(0.5), T(1) - T(1e-7), 0, 1};
  const std::vector<T> t = {0, 1, T(0.5), 1, T(0.5), 0, 1, 0};
  check_loss<T>(LossOp::bce, p, t, 0, " at p in {0, 1}");
  check_loss<T>(LossOp::bce_with_logits, std::vector<T>{-80, 80, 0, -1e-3, 40, -40, 1, -1}, t, 0,
                " at large logits");
}

TYPED_TEST(BackendElementwise, FillArange) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (int64_t n : kSizes)
    for (int64_t pad : kPads) {
      for (double value : {0.0, 1.5, -3.25, 1.0 / 3.0}) {
        std::vector<T> want(n);
        cpu().fill(dt, want.data(), n, value, nullptr);
        DeviceArray<T> d_y(n, pad);
        gpu().fill(dt, d_y.data(), n, value, gpu_stream());
        expect_close(d_y.download(), want, 0.0, label(cat("fill ", value), dt, n, pad));
      }
      for (auto [start, step] : {std::pair{0.0, 1.0}, {-3.5, 0.25}, {1e6, -0.1}}) {
        std::vector<T> want(n);
        cpu().arange(dt, want.data(), n, start, step, nullptr);
        DeviceArray<T> d_y(n, pad);
        gpu().arange(dt, d_y.data(), n, start, step, gpu_stream());
        expect_close(d_y.download(), want, elementwise_tol<T>(),
                     label(cat("arange ", start, " step ", step), dt, n, pad));
      }
    }
}

TYPED_TEST(BackendElementwise, Cast) {  // from TypeParam to float and to double
  using S = TypeParam;
  for (int64_t n : kSizes) {
    std::vector<S> x = uniform<S>(n, case_seed(), -1e3, 1e3);
    DeviceArray<S> d_x(x);
    {
      std::vector<float> want(n);
      cpu().cast(dtype_of<S>(), x.data(), DType::f32, want.data(), n, nullptr);
      DeviceArray<float> d_y(n);
      gpu().cast(dtype_of<S>(), d_x.data(), DType::f32, d_y.data(), n, gpu_stream());
      expect_close(d_y.download(), want, 0.0, cat("cast to float32 n=", n));
    }
    {
      std::vector<double> want(n);
      cpu().cast(dtype_of<S>(), x.data(), DType::f64, want.data(), n, nullptr);
      DeviceArray<double> d_y(n);
      gpu().cast(dtype_of<S>(), d_x.data(), DType::f64, d_y.data(), n, gpu_stream());
      expect_close(d_y.download(), want, 0.0, cat("cast to float64 n=", n));
    }
  }
}

// A cast to the same dtype is a copy, bit for bit: signed zeros, infinities, NaN payloads and
// subnormals (which a flush-to-zero path would lose) included, at odd sizes and misaligned.
TYPED_TEST(BackendElementwise, CastToTheSameTypeCopiesEveryBit) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  using Bits = std::conditional_t<std::is_same_v<T, float>, uint32_t, uint64_t>;
  for (int64_t n : kSizes)
    for (int64_t pad : kPads) {
      std::vector<T> x = uniform<T>(n, case_seed(), -1e3, 1e3);
      const T edges[] = {T(-0.0), std::numeric_limits<T>::infinity(),
                         -std::numeric_limits<T>::infinity(),
                         std::numeric_limits<T>::denorm_min(), -std::numeric_limits<T>::min() / 4,
                         std::numeric_limits<T>::max(), std::numeric_limits<T>::quiet_NaN()};
      for (size_t i = 0; i < std::size(edges) && i < x.size(); ++i) x[i] = edges[i];
      DeviceArray<T> d_x(x, pad), d_y(n, pad);
      gpu().cast(dt, d_x.data(), dt, d_y.data(), n, gpu_stream());
      const std::vector<T> got = d_y.download();
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<Bits>(got[i]), std::bit_cast<Bits>(x[i]))
            << label("cast to the same type", dt, n, pad) << ": element " << i << " " << x[i]
            << " became " << got[i];
    }
}

// The backend table's random entries (what ops and models call) against the CPU table's: the
// uniforms bit for bit, the normals within 1.5 * 2^-20 of their Box-Muller radius
// (kernels/cpu/random.cpp derives it; tests/gpu/test_philox_gpu.cpp checks its __sincosf premise).
TYPED_TEST(BackendElementwise, RandomEntriesMatchTheCpu) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (int64_t n : kSizes)
    for (int64_t pad : kPads) {
      const uint64_t seed = case_seed(), offset = case_seed() % 1000;  // any lane of a block
      const std::string what = label(cat("seed ", seed, " offset ", offset), dt, n, pad);
      std::vector<T> u(n), z(n + 1);  // z: both halves of the last pair, for its radius
      cpu().rand_uniform(dt, u.data(), n, seed, offset, nullptr);
      cpu().rand_normal(dt, z.data(), n + 1, seed, offset, nullptr);
      DeviceArray<T> d_u(n, pad), d_z(n, pad);
      gpu().rand_uniform(dt, d_u.data(), n, seed, offset, gpu_stream());
      gpu().rand_normal(dt, d_z.data(), n, seed, offset, gpu_stream());
      EXPECT_EQ(d_u.download(), u) << what;
      const std::vector<T> got = d_z.download();
      const double bound = 1.5 * std::ldexp(1.0, -20);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t pair = i & ~int64_t{1};
        const double r = std::hypot(double(z[pair]), double(z[pair + 1]));
        ASSERT_LE(std::fabs(double(got[i]) - double(z[i])), bound * r)  // false for NaN
            << what << ": normal " << i << " gpu " << got[i] << " cpu " << z[i];
      }
    }
}

TYPED_TEST(BackendElementwise, AdamUpdate) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  AdamParams plain;
  AdamParams l2;  // step 3, with bias correction and L2 weight decay
  l2.lr = 3e-3, l2.weight_decay = 0.01, l2.bias_correction1 = 1 - std::pow(0.9, 3);
  l2.bias_correction2 = 1 - std::pow(0.999, 3);
  AdamParams adamw = l2;
  adamw.decoupled = true;
  for (const AdamParams& a : {plain, l2, adamw})
    for (int64_t n : {int64_t(1), int64_t(33), int64_t(4099), int64_t(65537)})
      for (int64_t pad : kPads) {
        std::vector<T> p = uniform<T>(n, case_seed(), -1, 1), g = uniform<T>(n, case_seed(), -1, 1);
        std::vector<T> m = uniform<T>(n, case_seed(), -0.1, 0.1);
        std::vector<T> v = uniform<T>(n, case_seed(), 0, 0.01);
        DeviceArray<T> d_p(p, pad), d_g(g, pad), d_m(m, pad), d_v(v, pad);
        cpu().adam_update(dt, p.data(), g.data(), m.data(), v.data(), n, a, nullptr);
        gpu().adam_update(dt, d_p.data(), d_g.data(), d_m.data(), d_v.data(), n, a, gpu_stream());
        const std::string what = cat("adam_update decoupled=", a.decoupled, " wd=", a.weight_decay);
        expect_close(d_p.download(), p, elementwise_tol<T>(), label(what + " p", dt, n, pad));
        expect_close(d_m.download(), m, elementwise_tol<T>(), label(what + " m", dt, n, pad));
        expect_close(d_v.download(), v, elementwise_tol<T>(), label(what + " v", dt, n, pad));
      }
}

TYPED_TEST(BackendElementwise, SgdUpdate) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  SgdParams plain;
  SgdParams momentum;
  momentum.momentum = 0.9, momentum.weight_decay = 1e-3;
  SgdParams nesterov = momentum;
  nesterov.nesterov = true;
  for (const SgdParams& s : {plain, momentum, nesterov})
    for (int64_t n : {int64_t(1), int64_t(33), int64_t(4099), int64_t(65537)})
      for (int64_t pad : kPads) {
        const bool has_velocity = s.momentum != 0;  // without momentum the velocity is null
        std::vector<T> p = uniform<T>(n, case_seed(), -1, 1), g = uniform<T>(n, case_seed(), -1, 1);
        std::vector<T> vel = uniform<T>(n, case_seed(), -0.1, 0.1);
        DeviceArray<T> d_p(p, pad), d_g(g, pad), d_vel(vel, pad);
        cpu().sgd_update(dt, p.data(), g.data(), has_velocity ? vel.data() : nullptr, n, s,
                         nullptr);
        gpu().sgd_update(dt, d_p.data(), d_g.data(), has_velocity ? d_vel.data() : nullptr, n, s,
                         gpu_stream());
        const std::string what = cat("sgd_update momentum=", s.momentum, " nesterov=", s.nesterov);
        expect_close(d_p.download(), p, elementwise_tol<T>(), label(what + " p", dt, n, pad));
        expect_close(d_vel.download(), vel, elementwise_tol<T>(),
                     label(what + " velocity", dt, n, pad));
      }
}

// 2^26 elements: many grid-stride iterations per thread.
TYPED_TEST(BackendElementwise, Large) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const int64_t n = int64_t(1) << 26;
  UnaryCase sig{UnaryOp::sigmoid, {}, -30, 30, {0}};
  check_unary<T>(sig, n, 0);
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{65536, 1024}, {16411, 4093}}) {
    std::vector<T> a = uniform<T>(rows * cols, case_seed(), -3, 3);
    std::vector<T> b = uniform<T>(cols, case_seed(), -3, 3), want(rows * cols);
    cpu().binary_forward(BinaryOp::add, dt, a.data(), b.data(), want.data(), rows, cols,
                         Broadcast::row, nullptr);
    DeviceArray<T> d_a(a), d_b(b), d_y(rows * cols);
    gpu().binary_forward(BinaryOp::add, dt, d_a.data(), d_b.data(), d_y.data(), rows, cols,
                         Broadcast::row, gpu_stream());
    expect_close(d_y.download(), want, elementwise_tol<T>(),
                 cat("binary_forward add row broadcast ", dtype_name(dt), " (", rows, ", ", cols,
                     ")"));
  }
}

// Beyond 2^31 elements: indices past the int32 range (float32 only: 2 x 8.6 GB on the device).
TEST(BackendElementwiseHuge, UnaryBeyond2To31Elements) {
  const int64_t n = (int64_t(1) << 31) + 33;
  UnaryParams p{1.7, -0.3};
  std::vector<float> x = uniform<float>(n, case_seed(), -5, 5), want(n);
  cpu().unary_forward(UnaryOp::affine, DType::f32, x.data(), want.data(), n, p, nullptr);
  DeviceArray<float> d_x(x), d_y(n);
  x = {};
  gpu().unary_forward(UnaryOp::affine, DType::f32, d_x.data(), d_y.data(), n, p, gpu_stream());
  expect_close(d_y.download(), want, elementwise_tol<float>(), cat("unary_forward affine n=", n));
}

// A row broadcast over more than 2^32 - 1 elements: the column index takes the 64-bit division
// (launch.cuh's mod_index with small = false), which no smaller size reaches (float32 only:
// 2 x 17.2 GB on the device, 3 x 17.2 GB on the host).
TEST(BackendElementwiseHuge, RowBroadcastBeyond2To32Elements) {
  const int64_t cols = 1031, rows = (int64_t(1) << 32) / cols + 2;  // 1031: prime, not a power of 2
  const int64_t n = rows * cols;
  ASSERT_GT(n, int64_t(UINT32_MAX));
  std::vector<float> a = uniform<float>(n, case_seed(), -3, 3);
  std::vector<float> b = uniform<float>(cols, case_seed(), -3, 3), want(n);
  cpu().binary_forward(BinaryOp::mul, DType::f32, a.data(), b.data(), want.data(), rows, cols,
                       Broadcast::row, nullptr);
  DeviceArray<float> d_a(a), d_b(b), d_y(n);
  a = {};
  gpu().binary_forward(BinaryOp::mul, DType::f32, d_a.data(), d_b.data(), d_y.data(), rows, cols,
                       Broadcast::row, gpu_stream());
  expect_close(d_y.download(), want, elementwise_tol<float>(),
               cat("binary_forward mul row broadcast (", rows, ", ", cols, "), n = ", n));
}

}  // namespace
}  // namespace ae::gputest
