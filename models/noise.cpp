#include "models/noise.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

namespace {
struct Named {
  NoiseKind kind;
  const char* name;
};
constexpr Named kNoises[] = {{NoiseKind::none, "none"},
                             {NoiseKind::gaussian, "gaussian"},
                             {NoiseKind::salt_and_pepper, "salt_and_pepper"},
                             {NoiseKind::masking, "masking"},
                             {NoiseKind::dropout, "dropout"}};

// 1[d > 0] elementwise, exactly, from clamp and a power-of-two scale (exact, so the sign is
// kept): two passes lift every positive value, the subnormals included, to >= 1, which clamps to
// 1. 2^100 covers float32 (smallest subnormal 2^-149), 2^600 float64 (2^-1074); an overflow to
// inf clamps to 1 as well.
Tensor positive(const Tensor& d) {
  double scale = d.dtype() == DType::f32 ? std::ldexp(1.0, 100) : std::ldexp(1.0, 600);
  return clamp(clamp(d * scale, 0, 1) * scale, 0, 1);
}

// 1 where u > p for u uniform in (0, 1]: each element survives with probability 1 − p. The
// subtraction u − p is exact in sign (IEEE: it is 0 only when u == p), so the mask is exact and
// the same on every device.
Tensor survivors(const Tensor& x, double p, Generator& gen) {
  return positive(affine(gen.rand(x.shape(), x.dtype(), x.device()), 1, -p));
}
}  // namespace

const char* noise_name(NoiseKind k) {
  for (const Named& n : kNoises)
    if (n.kind == k) return n.name;
  fail(cat("noise_name: unknown noise kind ", static_cast<int>(k)));
}

NoiseKind parse_noise(const std::string& name) {
  for (const Named& n : kNoises)
    if (name == n.name) return n.kind;
  fail(cat("'", name, "' is not one of none, gaussian, salt_and_pepper, masking, dropout"));
}

Tensor corrupt(const Tensor& x, const NoiseConfig& noise, Generator& gen) {
  NoGradGuard no_grad;
  const double p = noise.level;
  Tensor clean = x.detach();
  switch (noise.kind) {
    case NoiseKind::none: return clean;
    case NoiseKind::gaussian:
      AE_CHECK(p >= 0, "corrupt: gaussian sigma must be >= 0, got ", p);
      return clean + gen.randn(x.shape(), x.dtype(), x.device()) * p;
    case NoiseKind::salt_and_pepper: {
      AE_CHECK(p >= 0 && p <= 1, "corrupt: salt_and_pepper fraction must be in [0, 1], got ", p);
      Tensor keep = survivors(x, p, gen);
      // Among the corrupted elements, a fair coin picks high (salt) or low (pepper).
      Tensor salt = survivors(x, 0.5, gen);
      Tensor value = affine(salt, noise.high - noise.low, noise.low);
      return keep * (clean - value) + value;
    }
    case NoiseKind::masking:
      AE_CHECK(p >= 0 && p <= 1, "corrupt: masking fraction must be in [0, 1], got ", p);
      return clean * survivors(x, p, gen);
    case NoiseKind::dropout:
      AE_CHECK(p >= 0 && p < 1, "corrupt: dropout probability must be in [0, 1), got ", p);
      return clean * survivors(x, p, gen) * (1 / (1 - p));
  }
  fail("corrupt: unknown noise kind");
}

}  // namespace ae::models
