// The CPU twins of the step entries: the optimizer updates with their scalars read from memory,
// the counters and loss accumulators, and the graph entries, which the CPU does not support
// (graph_begin says so; the others are never reached and throw if they are).
#include <cmath>

#include "core/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/scalar_math.h"

namespace ae::cpu {

void adam_update_indirect(DType dt, void* p, const void* g, void* m, void* v, int64_t n,
                          AdamParams a, const double* lr, const uint64_t* step, Stream s) {
  AE_CHECK(lr && step, "cpu adam_update_indirect: null lr or step");
  AE_CHECK(*step > 0, "cpu adam_update_indirect: step count 0 (count the step before updating)");
  a.lr = *lr;
  // As models::Optimizer computes them for the by-value entry, so both paths agree bit for bit.
  a.bias_correction1 = 1 - std::pow(a.beta1, static_cast<double>(*step));
  a.bias_correction2 = 1 - std::pow(a.beta2, static_cast<double>(*step));
  adam_update(dt, p, g, m, v, n, a, s);
}

void sgd_update_indirect(DType dt, void* p, const void* g, void* velocity, int64_t n,
                         SgdParams sp, const double* lr, Stream s) {
  AE_CHECK(lr, "cpu sgd_update_indirect: null lr");
  sp.lr = *lr;
  sgd_update(dt, p, g, velocity, n, sp, s);
}

void counter_add(uint64_t* counter, uint64_t value, Stream) { *counter += value; }

void accumulate_scalars(DType dt, const void* const* values, int n, double weight, double* acc,
                        Stream) {
  AE_CHECK(n >= 0 && n <= kMaxAccumulated, "cpu accumulate_scalars: ", n, " values (at most ",
           kMaxAccumulated, ")");
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    for (int i = 0; i < n; ++i) acc[i] += weight * static_cast<double>(*static_cast<const T*>(values[i]));
  });
}

void set_tf32(int, bool) {}  // the CPU computes every GEMM in full float32

bool graph_begin(Stream) { return false; }

void* graph_end(Stream) { fail("cpu graph_end: the CPU backend does not capture graphs"); }
void graph_launch(void*, Stream) { fail("cpu graph_launch: the CPU backend does not capture graphs"); }
void graph_destroy(void*) { fail("cpu graph_destroy: the CPU backend does not capture graphs"); }

}  // namespace ae::cpu
