// The sparse-code ops: selections against brute force, the sparse decoder and the sparse encoder
// backward against the dense computation, float64 gradchecks, and JumpReLU's straight-through
// threshold gradient against its formula.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/backend.h"
#include "tests/common/testing.h"

namespace ae {
namespace {

using testing::expect_gradcheck;
using testing::leaf;

std::vector<int32_t> indices(const SparseCode& z) {
  std::vector<int32_t> out(z.index->rows * z.index->width);
  std::copy(z.index->data(), z.index->data() + out.size(), out.begin());
  return out;
}

Tensor constant(const Tensor& t) { return t.detach().clone(); }

SparseSelection topk(int64_t k) { return {SparseSelection::Kind::topk, k, {}, 0}; }
SparseSelection batch_topk(int64_t k) { return {SparseSelection::Kind::batch_topk, k, {}, 0}; }

TEST(SparseOps, TopkRowsMatchesSortingEachRow) {
  for (auto [rows, n, k] : {std::tuple{1, 1, 1}, {3, 7, 2}, {5, 33, 33}, {17, 129, 5}}) {
    Tensor x = leaf({rows, n}, 100 + n, {}, false);
    Tensor pre = x;  // any matrix serves as pre-activations here
    std::vector<double> xv = x.to_vector();
    Tensor values = Tensor::empty({rows, k}, DType::f64);
    std::vector<int32_t> index(rows * k);
    cpu_backend().topk_rows(DType::f64, pre.data(), rows, n, k, values.data(), index.data(),
                            nullptr);
    std::vector<double> v = values.to_vector();
    for (int r = 0; r < rows; ++r) {
      std::vector<int> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&, n = n](int a, int b) { return xv[r * n + a] > xv[r * n + b]; });
      for (int s = 0; s < k; ++s) {
        EXPECT_EQ(index[r * k + s], order[s]) << "row " << r << " slot " << s;
        EXPECT_EQ(v[r * k + s], std::max(0.0, xv[r * n + order[s]]));
      }
    }
  }
}

TEST(SparseOps, TopkTiesGoToTheLowerLatent) {
  Tensor x = Tensor::from_host(std::vector<double>{1, 3, 3, 2, 3}, {1, 5});
  std::vector<int32_t> index(3);
  Tensor values = Tensor::empty({1, 3}, DType::f64);
  cpu_backend().topk_rows(DType::f64, x.data(), 1, 5, 3, values.data(), index.data(), nullptr);
  EXPECT_EQ(index, (std::vector<int32_t>{1, 2, 4}));
}

// k of 1, a few and up to a fortieth of count take the candidate path when count is large
// (kth_largest_by_candidates); a third and all of count the radix selection.
template <class T>
void check_kth_largest(DType dt, int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<T> x(count);
  for (auto& v : x) v = static_cast<T>(normal(rng));
  if (count > 4) x[1] = x[3] = x[0];  // ties
  if (count > 1000) {  // the value at the rank sought by k = count / 100, many times over
    std::vector<T> sorted = x;
    std::sort(sorted.begin(), sorted.end(), std::greater<T>());
    for (int64_t i = 0; i < count; i += 97) x[i] = sorted[count / 100 - 1];
  }
  for (int64_t k : {int64_t(1), int64_t(17), count / 100 + 1, count / 40 + 1, count / 3 + 1,
                    count}) {
    if (k > count) continue;
    T kth;
    cpu_backend().kth_largest(dt, x.data(), count, k, &kth, nullptr);
    std::vector<T> sorted = x;
    std::sort(sorted.begin(), sorted.end(), std::greater<T>());
    EXPECT_EQ(kth, sorted[k - 1]) << "count " << count << " k " << k;
  }
}

TEST(SparseOps, KthLargestMatchesSorting) {
  for (int64_t count : {1, 2, 7, 1000, 70001, 1048583}) {
    check_kth_largest<float>(DType::f32, count, 7 + count);
    check_kth_largest<double>(DType::f64, count, 9 + count);
  }
}

TEST(SparseOps, TopkCodeValuesAndGradientMatchTheDenseCode) {
  for (auto [rows, d, n, k] : {std::tuple{1, 1, 1, 1}, {4, 3, 9, 2}, {7, 5, 13, 4}}) {
    Tensor x = leaf({rows, d}, 200 + n), w = leaf({n, d}, 300 + n), b = leaf({n}, 400 + n);
    SparseCode z = sparse_code(sparse_preactivation(x, w, b), x, w, b, topk(k));
    // Values equal ReLU(x Wᵀ + b) at the selected latents, and to_dense puts them in place.
    Tensor pre = relu(add(matmul(x, w, false, true), b));
    std::vector<double> dense = to_dense(z).to_vector(), p = pre.to_vector();
    std::vector<int32_t> idx = indices(z);
    for (int r = 0; r < rows; ++r) {
      int nonzero = 0;
      for (int i = 0; i < n; ++i) {
        const bool chosen = std::count(idx.begin() + r * k, idx.begin() + (r + 1) * k, i) > 0;
        EXPECT_EQ(dense[r * n + i], chosen ? p[r * n + i] : 0.0);
        nonzero += dense[r * n + i] != 0;
      }
      EXPECT_LE(nonzero, k);
    }
    expect_gradcheck(
        [&, k = k](const std::vector<Tensor>& in) {
          return sparse_code(sparse_preactivation(in[0], in[1], in[2]), in[0], in[1], in[2],
                             topk(k))
              .values;
        },
        {x, w, b}, {1e-6, 1e-5, 1e-4});
  }
}

TEST(SparseOps, BatchTopkKeepsTheBatchsLargestAndPassesGradcheck) {
  const int rows = 6, d = 4, n = 11, k = 3;
  Tensor x = leaf({rows, d}, 500), w = leaf({n, d}, 501), b = leaf({n}, 502);
  SparseCode z = sparse_code(sparse_preactivation(x, w, b), x, w, b, batch_topk(k));
  std::vector<double> p = relu(add(matmul(x, w, false, true), b)).to_vector();
  std::vector<double> dense = to_dense(z).to_vector();
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  EXPECT_EQ(z.kth.item(), sorted[k * rows - 1]);
  for (size_t e = 0; e < p.size(); ++e)
    EXPECT_EQ(dense[e], p[e] >= sorted[k * rows - 1] && p[e] > 0 ? p[e] : 0.0);
  EXPECT_EQ(std::count_if(dense.begin(), dense.end(), [](double v) { return v != 0; }),
            k * rows);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return sparse_code(sparse_preactivation(in[0], in[1], in[2]), in[0], in[1], in[2],
                           batch_topk(k))
            .values;
      },
      {x, w, b}, {1e-6, 1e-5, 1e-4});
}

TEST(SparseOps, ThresholdSelectionKeepsWhatPassesEachLatentsThreshold) {
  const int rows = 5, d = 3, n = 8;
  Tensor x = leaf({rows, d}, 600), w = leaf({n, d}, 601), b = leaf({n}, 602);
  Tensor theta = Tensor::from_host(std::vector<double>{0.1, 0.5, 0.2, 0.0, 1.0, 0.3, 0.05, 0.7},
                                   {n});
  SparseSelection s{SparseSelection::Kind::threshold, 0, theta, 0};
  SparseCode z = sparse_code(sparse_preactivation(x, w, b), x, w, b, s);
  std::vector<double> p = add(matmul(x, w, false, true), b).to_vector();
  std::vector<double> dense = to_dense(z).to_vector(), th = theta.to_vector();
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) {
      const double v = p[r * n + i];
      EXPECT_EQ(dense[r * n + i], v > 0 && v >= th[i] ? v : 0.0);
    }
  // One threshold for every latent.
  SparseSelection one{SparseSelection::Kind::threshold, 0, Tensor::full({}, 0.4, DType::f64), 0};
  std::vector<double> d1 = to_dense(sparse_code(sparse_preactivation(x, w, b), x, w, b, one))
                               .to_vector();
  for (size_t e = 0; e < p.size(); ++e) EXPECT_EQ(d1[e], p[e] >= 0.4 ? p[e] : 0.0);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return sparse_code(sparse_preactivation(in[0], in[1], in[2]), in[0], in[1], in[2], s)
            .values;
      },
      {x, w, b}, {1e-6, 1e-5, 1e-4});
}

// Wider rows than the CPU kernel's scan block (64 latents), with whole blocks that nothing passes
// and rows whose kept latents lie in several blocks: the selection is the elementwise rule.
TEST(SparseOps, ThresholdSelectionOverManyBlocksKeepsExactlyWhatPasses) {
  const int rows = 7, d = 5, n = 203;
  Tensor x = leaf({rows, d}, 610), w = leaf({n, d}, 611), b = leaf({n}, 612);
  std::vector<double> th(n);
  for (int i = 0; i < n; ++i) th[i] = i >= 64 && i < 128 ? 1e9 : 0.02 * (i % 50);
  Tensor theta = Tensor::from_host(th, {n});
  const std::vector<double> p = add(matmul(x, w, false, true), b).to_vector();
  for (const bool per_latent : {true, false}) {
    SparseSelection s{SparseSelection::Kind::threshold, 0,
                      per_latent ? theta : Tensor::full({}, 0.3, DType::f64), 0};
    const std::vector<double> dense =
        to_dense(sparse_code(sparse_preactivation(x, w, b), x, w, b, s)).to_vector();
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < n; ++i) {
        const double v = p[r * n + i], t = per_latent ? th[i] : 0.3;
        ASSERT_EQ(dense[r * n + i], v > 0 && v >= t ? v : 0.0) << "row " << r << " latent " << i;
      }
  }
  // JumpReLU's band: slots within ε/2 below θ are kept (value 0, for the threshold's gradient).
  std::vector<double> log_th(n);
  for (int i = 0; i < n; ++i) log_th[i] = std::log(th[i] > 0 ? std::min(th[i], 1.0) : 0.01);
  const double eps = 0.2;
  SparseCode z = sparse_code(sparse_preactivation(x, w, b), x, w, b,
                             SparseSelection{SparseSelection::Kind::jumprelu, 0,
                                             Tensor::from_host(log_th, {n}), eps});
  int64_t want_slots = 0;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) {
      const double v = p[r * n + i], t = std::exp(log_th[i]);
      want_slots += v > 0 && (v >= t || v > t - eps / 2);
    }
  int64_t slots = 0;
  for (const int32_t latent : z.index->to_host()) slots += latent >= 0;
  EXPECT_EQ(slots, want_slots);
  // Each row's slots hold its kept latents in increasing order, then -1 up to the busiest row's
  // width (the order the sums over slots follow, on every backend).
  const std::vector<int32_t> index = z.index->to_host();
  for (int r = 0; r < rows; ++r) {
    int32_t last = -1;
    bool padding = false;
    for (int64_t s = 0; s < z.index->width; ++s) {
      const int32_t latent = index[static_cast<size_t>(r * z.index->width + s)];
      if (latent < 0) {
        padding = true;
        continue;
      }
      ASSERT_FALSE(padding) << "row " << r << " slot " << s << ": a latent after the padding";
      ASSERT_GT(latent, last) << "row " << r << " slot " << s;
      last = latent;
    }
  }
  const std::vector<double> dense = to_dense(z).to_vector();
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) {
      const double v = p[r * n + i], t = std::exp(log_th[i]);
      ASSERT_EQ(dense[r * n + i], v > 0 && v >= t ? v : 0.0) << "row " << r << " latent " << i;
    }
}

TEST(SparseOps, SparseDecodeEqualsTheDenseProductAndPassesGradcheck) {
  for (auto [rows, d, n, k] : {std::tuple{1, 1, 2, 1}, {5, 7, 12, 3}, {9, 4, 6, 6}}) {
    Tensor x = leaf({rows, d}, 700 + n, {}, false), we = leaf({n, d}, 701 + n, {}, false);
    Tensor be = leaf({n}, 702 + n, {}, false);
    Tensor wd = leaf({n, d}, 703 + n), bd = leaf({d}, 704 + n);
    SparseCode z = sparse_code(sparse_preactivation(x, we, be), x, we, be, topk(k));
    Tensor values = constant(z.values).requires_grad_();
    Tensor dense = add(matmul(to_dense(z), wd), bd);
    SparseCode zv{values, z.index, {}, {}};
    std::vector<double> a = sparse_decode(zv, wd, bd).to_vector(), e = dense.to_vector();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], e[i], 1e-13);
    expect_gradcheck(
        [&](const std::vector<Tensor>& in) {
          return sparse_decode(SparseCode{in[0], z.index, {}, {}}, in[1], in[2]);
        },
        {values, wd, bd});
  }
}

TEST(SparseOps, EncoderAndDecoderTogetherMatchTheDenseModelsGradient) {
  // A whole TopK (and BatchTopK: rows of different widths, padded slots) autoencoder's loss: the
  // sparse path's gradients equal those of the dense computation with the same selection as a
  // constant mask.
  const int rows = 8, d = 6, n = 20, k = 3;
  for (const SparseSelection& selection : {topk(k), batch_topk(k)}) {
    SCOPED_TRACE(selection.kind == SparseSelection::Kind::topk ? "topk" : "batch_topk");
    Tensor x = leaf({rows, d}, 800, {}, false);
    Tensor we = leaf({n, d}, 801), be = leaf({n}, 802), wd = leaf({n, d}, 803), bd = leaf({d}, 804);
    SparseCode z = sparse_code(sparse_preactivation(x, we, be), x, we, be, selection);
    Tensor sparse_loss = half_sse_loss(sparse_decode(z, wd, bd), x);
    sparse_loss.backward();
    std::vector<std::vector<double>> sparse_grads;
    for (Tensor* p : {&we, &be, &wd, &bd}) {
      sparse_grads.push_back(p->grad().to_vector());
      p->zero_grad();
    }
    Tensor mask = to_dense(z);
    std::vector<double> m = mask.to_vector();
    for (double& v : m) v = v != 0;
    if (selection.kind == SparseSelection::Kind::batch_topk)
      EXPECT_GT(z.index->width, k);  // some row holds more than k: others are padded
    Tensor code = mul(relu(add(matmul(x, we, false, true), be)), Tensor::from_host(m, {rows, n}));
    half_sse_loss(add(matmul(code, wd), bd), x).backward();
    int i = 0;
    for (Tensor* p : {&we, &be, &wd, &bd}) {
      std::vector<double> g = p->grad().to_vector();
      for (size_t e = 0; e < g.size(); ++e) EXPECT_NEAR(sparse_grads[i][e], g[e], 1e-12);
      ++i;
    }
  }
}

TEST(SparseOps, GradientsAccumulateIntoRegisteredBuffersAsWhenWrittenFresh) {
  // sparse_outer_grad with beta 1 adds into what is there.
  const int64_t rows = 4, width = 2, latents = 5, dim = 3;
  std::vector<int32_t> index{0, 3, 3, -1, 4, 0, 1, 3};
  std::vector<int32_t> offsets(latents + 1), order(rows * width);
  cpu_backend().group_by_latent(index.data(), rows * width, latents, offsets.data(), order.data(),
                                nullptr);
  EXPECT_EQ(offsets, (std::vector<int32_t>{0, 2, 3, 3, 6, 7}));
  EXPECT_EQ(order, (std::vector<int32_t>{0, 5, 6, 1, 2, 7, 4, 0}));  // last entry untouched
  std::vector<double> g{1, 2, 3, 0, 5, 6, 7, 8}, x(rows * dim), dw(latents * dim, 1.0),
      db(latents, 1.0);
  std::iota(x.begin(), x.end(), 1.0);
  cpu_backend().sparse_outer_grad(DType::f64, g.data(), offsets.data(), order.data(), width,
                                  x.data(), latents, dim, 1.0, dw.data(), db.data(), nullptr);
  // Latent 3: slots 1 (row 0, g 2), 2 (row 1, g 3), 7 (row 3, g 8).
  for (int j = 0; j < dim; ++j)
    EXPECT_EQ(dw[3 * dim + j], 1 + 2 * x[0 * dim + j] + 3 * x[1 * dim + j] + 8 * x[3 * dim + j]);
  EXPECT_EQ(db[3], 1 + 2 + 3 + 8);
  EXPECT_EQ(db[2], 1.0);  // no slot: only beta * db
}

TEST(SparseOps, JumpReluSelectsAboveTheThresholdAndItsStraightThroughGradientIsThePapers) {
  const int rows = 40, d = 3, n = 6;
  const double eps = 0.2;
  Tensor x = leaf({rows, d}, 900), w = leaf({n, d}, 901), b = leaf({n}, 902);
  Tensor log_theta = Tensor::from_host(
      std::vector<double>{std::log(0.1), std::log(0.5), std::log(0.3), std::log(1.0),
                          std::log(0.05), std::log(0.8)},
      {n});
  log_theta.requires_grad_();
  SparseSelection s{SparseSelection::Kind::jumprelu, 0, log_theta, eps};
  Tensor pre_t = sparse_preactivation(x, w, b);
  SparseCode z = sparse_code(pre_t, x, w, b, s);
  std::vector<double> pre = pre_t.to_vector(), dense = to_dense(z).to_vector();
  std::vector<double> th = exp(log_theta.detach()).to_vector();
  double active = 0;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) {
      const double v = pre[r * n + i];
      EXPECT_EQ(dense[r * n + i], v >= th[i] && v > 0 ? v : 0.0);
      active += v >= th[i] && v > 0;
    }
  EXPECT_NEAR(z.l0.item(), active / rows, 1e-15);
  // Loss = Σ c ⊙ decode(z) + λ l0 for a fixed c (rows, d): dL/dz[r, i] = G[r, i] = (c W_decᵀ)[r, i].
  // By the paper's pseudo-derivatives, with K(r, i) = [|pre - θ_i| < ε / 2] (and pre > 0),
  //   dL/dθ_i = Σ_r K(r, i) (-(θ_i / ε) G[r, i] - λ / (ε rows)),   dL/dlog θ_i = θ_i dL/dθ_i.
  const double lambda = 0.7;
  Tensor c = leaf({rows, d}, 903, {}, false), wd = leaf({n, d}, 904, {}, false);
  Tensor loss = add(sum(mul(sparse_decode(z, wd, Tensor()), c)), mul(z.l0, lambda));
  loss.backward();
  std::vector<double> G = matmul(c, wd, false, true).to_vector();
  std::vector<double> got = log_theta.grad().to_vector();
  int in_kernel = 0;
  for (int i = 0; i < n; ++i) {
    double expected = 0;
    for (int r = 0; r < rows; ++r) {
      const double v = pre[r * n + i];
      if (!(v > 0 && std::fabs(v - th[i]) < eps / 2)) continue;
      ++in_kernel;
      expected += -(th[i] / eps) * G[r * n + i] - lambda / (eps * rows);
    }
    EXPECT_NEAR(got[i], th[i] * expected, 1e-12) << "latent " << i;
  }
  EXPECT_GT(in_kernel, 3);  // the test reaches the kernel's window
  // The gradient of x, W and b is the ordinary one at the active latents.
  SparseSelection fixed{SparseSelection::Kind::jumprelu, 0, log_theta.detach(), eps};
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return sparse_code(sparse_preactivation(in[0], in[1], in[2]), in[0], in[1], in[2], fixed)
            .values;
      },
      {x, w, b}, {1e-6, 1e-5, 1e-4});
}

TEST(SparseOps, UnitNormRowsAndTheGradientAlongThem) {
  Tensor w = leaf({4, 5}, 950, {}, false);
  std::vector<double> before = w.to_vector();
  std::fill(before.begin() + 5, before.begin() + 10, 0.0);  // a zero row
  w = Tensor::from_host(before, {4, 5});
  normalize_rows_(w);
  std::vector<double> after = w.to_vector();
  for (int r = 0; r < 4; ++r) {
    double sq = 0, sq0 = 0;
    for (int j = 0; j < 5; ++j) sq += after[r * 5 + j] * after[r * 5 + j];
    for (int j = 0; j < 5; ++j) sq0 += before[r * 5 + j] * before[r * 5 + j];
    EXPECT_NEAR(sq, r == 1 ? 0.0 : 1.0, 1e-15);
    for (int j = 0; j < 5 && sq0 > 0; ++j)
      EXPECT_NEAR(after[r * 5 + j], before[r * 5 + j] / std::sqrt(sq0), 1e-15);
  }
  Tensor g = leaf({4, 5}, 951, {}, false);
  std::vector<double> g0 = g.to_vector();
  project_out_rows_(w, g);
  std::vector<double> g1 = g.to_vector();
  for (int r = 0; r < 4; ++r) {
    double along = 0, left = 0;
    for (int j = 0; j < 5; ++j) along += g0[r * 5 + j] * after[r * 5 + j];
    for (int j = 0; j < 5; ++j) {
      EXPECT_NEAR(g1[r * 5 + j], g0[r * 5 + j] - along * after[r * 5 + j], 1e-15);
      left += g1[r * 5 + j] * after[r * 5 + j];
    }
    EXPECT_NEAR(left, 0.0, 1e-15);
  }
}

TEST(SparseOps, BadShapesAndSettingsAreNamed) {
  Tensor x = leaf({3, 4}, 1), w = leaf({5, 4}, 2), b = leaf({5}, 3);
  Tensor pre = sparse_preactivation(x, w, b);
  EXPECT_NE(testing::error_of([&] { sparse_code(pre, x, w, b, topk(6)); }).find("k = 6"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { sparse_code(pre, x, leaf({5, 3}, 4), b, topk(2)); })
                .find("do not fit"),
            std::string::npos);
  SparseCode z = sparse_code(pre, x, w, b, topk(2));
  EXPECT_NE(testing::error_of([&] { sparse_decode(z, leaf({4, 4}, 5), Tensor()); })
                .find("sparse_decode"),
            std::string::npos);
}

}  // namespace
}  // namespace ae
