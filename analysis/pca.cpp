#include "analysis/pca.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// The values of x as float64 on the host, every one finite; `op` names the caller in messages.
std::vector<double> finite_values(const Tensor& x, const char* op, const char* what) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0 && x.size(1) > 0, op, ": ", what,
           " must be a non-empty 2-d matrix, got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  std::vector<double> v = x.to_vector();
  const int64_t cols = x.size(1);
  for (size_t i = 0; i < v.size(); ++i)
    AE_CHECK(std::isfinite(v[i]), op, ": ", what, " row ", static_cast<int64_t>(i) / cols,
             ", column ", static_cast<int64_t>(i) % cols, ": ", v[i], " is not a finite number");
  return v;
}

double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// c (ra, rb) = a (ra, n) · b (rb, n)ᵀ
std::vector<double> times_transpose(const std::vector<double>& a, int64_t ra,
                                    const std::vector<double>& b, int64_t rb, int64_t n) {
  std::vector<double> c(static_cast<size_t>(ra * rb));
  for (int64_t i = 0; i < ra; ++i)
    for (int64_t j = 0; j < rb; ++j) c[i * rb + j] = dot(&a[i * n], &b[j * n], n);
  return c;
}

// The upper triangle of xᵀ x for x (m, f), mirrored. Samples go in blocks so each row of the
// f x f result is reused from cache across a block instead of streamed once per sample.
std::vector<double> gram_of_columns(const std::vector<double>& x, int64_t m, int64_t f) {
  constexpr int64_t kBlock = 32;
  std::vector<double> c(static_cast<size_t>(f * f), 0.0);
  for (int64_t s0 = 0; s0 < m; s0 += kBlock) {
    const int64_t s1 = std::min(m, s0 + kBlock);
    for (int64_t a = 0; a < f; ++a) {
      double* ca = &c[a * f];
      for (int64_t s = s0; s < s1; ++s) {
        const double* xs = &x[s * f];
        const double xa = xs[a];
        if (xa == 0) continue;
        for (int64_t b = a; b < f; ++b) ca[b] += xa * xs[b];
      }
    }
  }
  for (int64_t a = 0; a < f; ++a)
    for (int64_t b = 0; b < a; ++b) c[a * f + b] = c[b * f + a];
  return c;
}

// Rows i and i+1 of w (., n) replaced by (c wi - s wi1, s wi + c wi1): a Givens rotation of
// two eigenvector columns, stored as rows so the update runs over contiguous memory.
void rotate_rows(double* wi, double* wi1, int64_t n, double s, double c) {
  for (int64_t k = 0; k < n; ++k) {
    const double f = wi1[k];
    wi1[k] = s * wi[k] + c * f;
    wi[k] = c * wi[k] - s * f;
  }
}

}  // namespace

// --- the symmetric eigensolver ----------------------------------------------------------------

SymmetricEigen symmetric_eigen(const std::vector<double>& input, int64_t n) {
  AE_CHECK(n > 0 && static_cast<int64_t>(input.size()) == n * n, "symmetric_eigen: ",
           input.size(), " values for a ", n, "x", n, " matrix");
  double amax = 0;
  for (double v : input) {
    AE_CHECK(std::isfinite(v), "symmetric_eigen: ", v, " is not a finite number");
    amax = std::max(amax, std::abs(v));
  }
  // Work on the symmetric part, after checking the asymmetry is only rounding.
  std::vector<double> a(input.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double aij = input[i * n + j], aji = input[j * n + i];
      AE_CHECK(std::abs(aij - aji) <= 1e-10 * amax, "symmetric_eigen: a[", i, "][", j, "] = ",
               aij, " but a[", j, "][", i, "] = ", aji);
      a[i * n + j] = 0.5 * (aij + aji);
    }

  // 1. Householder: T = Hₙ₋₃ ··· H₀ A H₀ ··· Hₙ₋₃ tridiagonal, H_k = I - β u uᵀ acting on
  //    indices k+1..n-1. d is T's diagonal, e[i] couples i and i+1; u_k is kept in row k of `u`.
  std::vector<double> d(n), e(n, 0.0), u(static_cast<size_t>(n * n), 0.0), beta(n, 0.0);
  std::vector<double> p(n);
  for (int64_t k = 0; k + 2 < n; ++k) {
    const int64_t m = n - k - 1;
    double* x = &a[k * n + k + 1];  // row k right of the diagonal = column k below it
    double scale = 0;
    for (int64_t i = 0; i < m; ++i) scale = std::max(scale, std::abs(x[i]));
    d[k] = a[k * n + k];
    if (scale == 0) continue;  // already tridiagonal in this column: H_k = I
    double norm2 = 0;
    for (int64_t i = 0; i < m; ++i) norm2 += (x[i] / scale) * (x[i] / scale);
    const double alpha = -std::copysign(scale * std::sqrt(norm2), x[0]);
    double* uk = &u[k * n + k + 1];
    std::copy_n(x, m, uk);
    uk[0] -= alpha;  // no cancellation: alpha has the opposite sign of x[0]
    const double uu = dot(uk, uk, m);
    beta[k] = 2 / uu;
    e[k] = alpha;
    // B ← H B H on the trailing block, as the rank-2 update B - u qᵀ - q uᵀ.
    double* b = &a[(k + 1) * n + k + 1];
    for (int64_t i = 0; i < m; ++i) p[i] = beta[k] * dot(b + i * n, uk, m);
    const double half_k = 0.5 * beta[k] * dot(uk, p.data(), m);
    for (int64_t i = 0; i < m; ++i) p[i] -= half_k * uk[i];  // p is now q
    for (int64_t i = 0; i < m; ++i) {
      double* bi = b + i * n;
      const double ui = uk[i], qi = p[i];
      for (int64_t j = 0; j < m; ++j) bi[j] -= ui * p[j] + qi * uk[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 2] = a[(n - 2) * n + n - 1];
  }
  d[n - 1] = a[(n - 1) * n + n - 1];

  // 2. Q = H₀ ··· Hₙ₋₃, from the right end: each H_k only touches the trailing block.
  std::vector<double> q(static_cast<size_t>(n * n), 0.0), w(n);
  for (int64_t i = 0; i < n; ++i) q[i * n + i] = 1;
  for (int64_t k = n - 3; k >= 0; --k) {
    if (beta[k] == 0) continue;
    const int64_t m = n - k - 1;
    const double* uk = &u[k * n + k + 1];
    double* qb = &q[(k + 1) * n + k + 1];
    std::fill_n(w.begin(), m, 0.0);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < m; ++c) w[c] += uk[r] * qb[r * n + c];
    for (int64_t r = 0; r < m; ++r) {
      const double f = beta[k] * uk[r];
      for (int64_t c = 0; c < m; ++c) qb[r * n + c] -= f * w[c];
    }
  }
  // Eigenvectors are columns of Q Z; keep them as rows of (Q Z)ᵀ.
  std::vector<double> vt(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) vt[j * n + i] = q[i * n + j];

  // 3. Implicit QL with Wilkinson shifts on (d, e), rotations applied to the vectors.
  //    An off-diagonal entry is negligible next to its two diagonal neighbours, or next to the
  //    whole matrix (where those are themselves ~0, as for the constant pixels of MNIST): both
  //    perturb the eigenvalues by at most eps ‖T‖, the accuracy of the reduction itself.
  e[n - 1] = 0;
  double tnorm = 0;
  for (int64_t i = 0; i < n; ++i) tnorm = std::max(tnorm, std::abs(d[i]) + 2 * std::abs(e[i]));
  const double negligible = kEps * tnorm;
  for (int64_t l = 0; l < n; ++l) {
    for (int iter = 0;; ++iter) {
      int64_t m = l;
      for (; m < n - 1; ++m)
        if (std::abs(e[m]) <= kEps * (std::abs(d[m]) + std::abs(d[m + 1])) ||
            std::abs(e[m]) <= negligible)
          break;
      if (m == l) break;
      AE_CHECK(iter < 60, "symmetric_eigen: QL did not converge for eigenvalue ", l, " of ", n);
      // The shift: the eigenvalue of the leading 2x2 block nearer d[l].
      double g = (d[l + 1] - d[l]) / (2 * e[l]);
      double r = std::hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
      double s = 1, c = 1, shift = 0;
      bool underflow = false;
      for (int64_t i = m - 1; i >= l; --i) {
        const double f = s * e[i], b = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0) {  // the rotation underflowed: deflate and start again
          d[i + 1] -= shift;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - shift;
        r = (d[i] - g) * s + 2 * c * b;
        shift = s * r;
        d[i + 1] = g + shift;
        g = c * r - b;
        rotate_rows(&vt[i * n], &vt[(i + 1) * n], n, s, c);
      }
      if (underflow) continue;
      d[l] -= shift;
      e[l] = g;
      e[m] = 0;
    }
  }

  // 4. Decreasing order; each vector's largest entry made positive, so results are canonical.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return d[x] > d[y]; });
  SymmetricEigen out;
  out.n = n;
  out.values.resize(n);
  out.vectors.resize(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    const double* src = &vt[order[i] * n];
    int64_t big = 0;
    for (int64_t j = 1; j < n; ++j)
      if (std::abs(src[j]) > std::abs(src[big])) big = j;
    const double sign = src[big] < 0 ? -1.0 : 1.0;
    out.values[i] = d[order[i]];
    for (int64_t j = 0; j < n; ++j) out.vectors[i * n + j] = sign * src[j];
  }
  return out;
}

// --- orthonormal bases and principal angles ---------------------------------------------------

std::vector<double> orthonormal_rows(const std::vector<double>& a, int64_t k, int64_t n) {
  AE_CHECK(k > 0 && n > 0 && static_cast<int64_t>(a.size()) == k * n, "orthonormal_rows: ",
           a.size(), " values for ", k, " rows of ", n);
  AE_CHECK(k <= n, "orthonormal_rows: ", k, " rows of length ", n, " cannot be independent");
  std::vector<double> q = a;
  for (int64_t i = 0; i < k; ++i) {
    double* qi = &q[i * n];
    const double before = std::sqrt(dot(qi, qi, n));
    // Twice: the second pass removes what rounding left of the earlier directions.
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double* qj = &q[j * n];
        const double c = dot(qi, qj, n);
        for (int64_t t = 0; t < n; ++t) qi[t] -= c * qj[t];
      }
    const double after = std::sqrt(dot(qi, qi, n));
    AE_CHECK(before > 0 && after > 1e-10 * before, "orthonormal_rows: row ", i,
             " is (numerically) in the span of the rows before it (norm ", before, " -> ", after,
             ")");
    for (int64_t t = 0; t < n; ++t) qi[t] /= after;
  }
  return q;
}

std::vector<double> principal_angles(const Tensor& ta, const Tensor& tb) {
  std::vector<double> a = finite_values(ta, "principal_angles", "a");
  std::vector<double> b = finite_values(tb, "principal_angles", "b");
  AE_CHECK(ta.size(1) == tb.size(1), "principal_angles: a ", ta.shape(), " and b ", tb.shape(),
           " live in spaces of different dimension");
  const int64_t n = ta.size(1);
  int64_t ka = ta.size(0), kb = tb.size(0);
  // b is the smaller space: its vectors are split into the part inside span(a) and the rest.
  if (kb > ka) {
    std::swap(a, b);
    std::swap(ka, kb);
  }
  std::vector<double> qa = orthonormal_rows(a, ka, n), qb = orthonormal_rows(b, kb, n);
  // Cosines: singular values of M = Qb Qaᵀ (kb, ka).
  std::vector<double> mt = times_transpose(qb, kb, qa, ka, n);
  SymmetricEigen cos2 = symmetric_eigen(times_transpose(mt, kb, mt, kb, ka), kb);
  // Sines: singular values of R = Qb - M Qa, the part of Qb outside span(a); projected twice.
  std::vector<double> r = qb;
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> c = times_transpose(r, kb, qa, ka, n);
    for (int64_t i = 0; i < kb; ++i)
      for (int64_t j = 0; j < ka; ++j)
        for (int64_t t = 0; t < n; ++t) r[i * n + t] -= c[i * ka + j] * qa[j * n + t];
  }
  SymmetricEigen sin2 = symmetric_eigen(times_transpose(r, kb, r, kb, n), kb);
  std::vector<double> angles(kb);
  for (int64_t i = 0; i < kb; ++i) {
    // Angle i (increasing) has the i-th largest cosine and the i-th smallest sine.
    const double c = std::sqrt(std::clamp(cos2.values[i], 0.0, 1.0));
    const double s = std::sqrt(std::clamp(sin2.values[kb - 1 - i], 0.0, 1.0));
    const double rad = c * c >= 0.5 ? std::asin(s) : std::acos(c);
    angles[i] = rad * 180.0 / std::numbers::pi;
  }
  std::sort(angles.begin(), angles.end());
  return angles;
}

double max_principal_angle(const Tensor& a, const Tensor& b) {
  return principal_angles(a, b).back();
}

// --- PCA --------------------------------------------------------------------------------------

Pca Pca::fit(const Tensor& x, int64_t k) {
  std::vector<double> v = finite_values(x, "Pca::fit", "x");
  const int64_t m = x.size(0), f = x.size(1);
  AE_CHECK(k > 0 && k <= std::min(m, f), "Pca::fit: k = ", k, " components of ", m,
           " samples with ", f, " features (at most ", std::min(m, f), ")");
  std::vector<double> mean(f, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < f; ++j) mean[j] += v[i * f + j];
  for (double& mu : mean) mu /= static_cast<double>(m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < f; ++j) v[i * f + j] -= mean[j];

  Pca pca;
  pca.samples = m;
  pca.explained_variance.resize(k);
  std::vector<double> comps(static_cast<size_t>(k * f));
  const double inv_m = 1.0 / static_cast<double>(m);
  if (f <= m) {
    // Covariance (1/m) Xcᵀ Xc, f x f.
    std::vector<double> cov = gram_of_columns(v, m, f);
    for (double& c : cov) c *= inv_m;
    for (int64_t j = 0; j < f; ++j) pca.total_variance += cov[j * f + j];
    SymmetricEigen eig = symmetric_eigen(cov, f);
    std::copy_n(eig.vectors.begin(), k * f, comps.begin());
    for (int64_t i = 0; i < k; ++i) pca.explained_variance[i] = std::max(0.0, eig.values[i]);
  } else {
    // More features than samples: the m x m Gram matrix (1/m) Xc Xcᵀ has the same nonzero
    // eigenvalues; component i is Xcᵀ uᵢ normalised.
    std::vector<double> gram = times_transpose(v, m, v, m, f);
    for (double& g : gram) g *= inv_m;
    for (int64_t i = 0; i < m; ++i) pca.total_variance += gram[i * m + i];
    SymmetricEigen eig = symmetric_eigen(gram, m);
    // Directions of (numerically) zero variance are not determined by Xcᵀ u; each is filled
    // with the unit vector that has the most left outside the components before it.
    const double floor = eig.values[0] * static_cast<double>(m) * 64 * kEps;
    for (int64_t i = 0; i < k; ++i) {
      double* ci = &comps[i * f];
      pca.explained_variance[i] = std::max(0.0, eig.values[i]);
      if (eig.values[i] > floor) {
        const double* ui = &eig.vectors[i * m];
        for (int64_t s = 0; s < m; ++s)
          for (int64_t j = 0; j < f; ++j) ci[j] += ui[s] * v[s * f + j];
      } else {
        pca.explained_variance[i] = 0;
        // |e_j outside span|² = 1 - Σ_t c_tj²; some j has at least (f - i) / f > 0 left.
        std::vector<double> inside(f, 0.0);
        for (int64_t t = 0; t < i; ++t)
          for (int64_t j = 0; j < f; ++j) inside[j] += comps[t * f + j] * comps[t * f + j];
        const int64_t unit = std::min_element(inside.begin(), inside.end()) - inside.begin();
        ci[unit] = 1;
        for (int pass = 0; pass < 2; ++pass)
          for (int64_t t = 0; t < i; ++t) {
            const double c = dot(ci, &comps[t * f], f);
            for (int64_t j = 0; j < f; ++j) ci[j] -= c * comps[t * f + j];
          }
      }
      const double norm = std::sqrt(dot(ci, ci, f));
      for (int64_t j = 0; j < f; ++j) ci[j] /= norm;
    }
    comps = orthonormal_rows(comps, k, f);  // removes the rounding of small-variance directions
  }
  pca.mean = Tensor::from_host(mean, {f}, Device::cpu());
  pca.components = Tensor::from_host(comps, {k, f}, Device::cpu());
  return pca;
}

std::vector<double> Pca::explained_variance_ratio() const {
  std::vector<double> r(explained_variance.size());
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = total_variance > 0 ? explained_variance[i] / total_variance : 0.0;
  return r;
}

Pca Pca::truncated(int64_t keep) const {
  AE_CHECK(keep > 0 && keep <= k(), "Pca::truncated: ", keep, " of ", k(), " components");
  Pca out = *this;
  out.components = slice(components, 0, keep).clone();
  out.explained_variance.resize(keep);
  return out;
}

Tensor Pca::transform(const Tensor& x) const {
  AE_CHECK_KIND(state, components.defined(), "Pca::transform: not fitted");
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == features(), "Pca::transform: expected (n, ",
           features(), "), got ", x.defined() ? x.shape().str() : std::string("undefined"));
  const Tensor mu = mean.to(x.device()).to(x.dtype());
  const Tensor w = components.to(x.device()).to(x.dtype());
  return matmul(sub(x, mu), w, false, true);
}

Tensor Pca::inverse_transform(const Tensor& codes) const {
  AE_CHECK_KIND(state, components.defined(), "Pca::inverse_transform: not fitted");
  AE_CHECK(codes.defined() && codes.ndim() == 2 && codes.size(1) == k(),
           "Pca::inverse_transform: expected (n, ", k(), "), got ",
           codes.defined() ? codes.shape().str() : std::string("undefined"));
  const Tensor mu = mean.to(codes.device()).to(codes.dtype());
  const Tensor w = components.to(codes.device()).to(codes.dtype());
  return add(matmul(codes, w), mu);
}

Tensor Pca::reconstruct(const Tensor& x) const { return inverse_transform(transform(x)); }

double Pca::reconstruction_error(const Tensor& x) const {
  const Tensor x64 = x.to(Device::cpu()).to(DType::f64);
  return sum(square(sub(reconstruct(x64), x64))).item() / static_cast<double>(x.size(0));
}

}  // namespace ae::models
