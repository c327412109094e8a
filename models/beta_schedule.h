// The VAE's KL weight β over optimizer steps.
#pragma once
#include <cstdint>
#include <string>

namespace ae::models {

//   constant  β = value
//   warmup    β = value · min(1, step / warmup_steps)                 (linear warm-up)
//   cyclical  β = value · min(1, τ / ratio), τ = (step mod period) / period
//             (Fu et al. 2019: rise over the first `ratio` of each cycle, then hold)
enum class BetaScheduleKind : uint8_t { constant, warmup, cyclical };
const char* beta_schedule_name(BetaScheduleKind k);
BetaScheduleKind parse_beta_schedule(const std::string& name);

struct BetaSchedule {
  BetaScheduleKind kind = BetaScheduleKind::constant;
  double value = 1;            // the final (or constant) β
  int64_t warmup_steps = 1000;  // warmup
  int64_t period = 1000;        // cyclical: steps per cycle
  double ratio = 0.5;          // cyclical: the rising fraction of a cycle

  double at(int64_t step) const;  // step counts optimizer steps from 0
};

}  // namespace ae::models
