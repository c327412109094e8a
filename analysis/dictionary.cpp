#include "analysis/dictionary.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

std::vector<double> max_cosine_similarity(const Tensor& learned, const Tensor& truth) {
  const auto shape_of = [](const Tensor& t) {
    return t.defined() ? t.shape().str() : std::string("undefined");
  };
  AE_CHECK(learned.defined() && truth.defined() && learned.ndim() == 2 && truth.ndim() == 2 &&
               learned.size(1) == truth.size(1) && truth.size(1) > 0,
           "max_cosine_similarity: learned ", shape_of(learned), " and truth ", shape_of(truth),
           " must be (n, d) and (F, d) matrices of one width d > 0");
  AE_CHECK(learned.size(0) > 0 && truth.size(0) > 0, "max_cosine_similarity: learned ",
           shape_of(learned), " and truth ", shape_of(truth), " need at least one row each");
  AE_CHECK(learned.dtype() == truth.dtype() && learned.device() == truth.device(),
           "max_cosine_similarity: learned ", learned.str(), " and truth ", truth.str(),
           " must share dtype and device");
  NoGradGuard no_grad;
  const int64_t f = truth.size(0), n = learned.size(0);
  const std::vector<double> truth_norm = sqrt(sum(square(truth), 1)).to_vector();
  // A zero learned row divided by the smallest normal float stays exactly 0.
  constexpr double kTiny = std::numeric_limits<float>::min();
  const double inf = std::numeric_limits<double>::infinity();
  // Blocks of learned rows keep the (F, block) products a few MB on the host.
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(n, (int64_t{1} << 22) / f));
  std::vector<double> best(static_cast<size_t>(f), -inf);
  for (int64_t start = 0; start < n; start += block) {
    const int64_t stop = std::min(n, start + block), width = stop - start;
    const Tensor rows = slice(learned, start, stop);  // (width, d)
    const Tensor unit_t = div(transpose(rows), clamp(sqrt(sum(square(rows), 1)), kTiny, inf));
    const std::vector<double> v = matmul(truth, unit_t).to_vector();  // (F, width)
    for (int64_t i = 0; i < f; ++i) {
      const double* row = v.data() + i * width;
      best[i] = std::max(best[i], *std::max_element(row, row + width));
    }
  }
  for (int64_t i = 0; i < f; ++i) {
    const double cosine = truth_norm[i] > 0 ? best[i] / truth_norm[i] : 0.0;
    AE_CHECK(std::isfinite(cosine), "max_cosine_similarity: true feature ", i,
             " has similarity ", cosine, " (learned ", learned.str(), " or truth ", truth.str(),
             " holds a value that is not finite)");
    best[i] = std::clamp(cosine, -1.0, 1.0);
  }
  return best;
}

double mean_max_cosine_similarity(const Tensor& learned, const Tensor& truth) {
  const std::vector<double> m = max_cosine_similarity(learned, truth);
  double total = 0;
  for (double c : m) total += c;
  return total / static_cast<double>(m.size());
}

}  // namespace ae::models
