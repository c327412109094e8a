// Schedules: the learning rate over epochs, and the VAE's KL weight β over optimizer steps.
#pragma once
#include <cstdint>
#include <string>

namespace ae::models {

//   constant  lr
//   step      lr · gamma^⌊epoch / step_size⌋
//   cosine    min_lr + (lr − min_lr) · ½ (1 + cos(π · min(epoch, total) / total))
enum class LrScheduleKind : uint8_t { constant, step, cosine };
const char* lr_schedule_name(LrScheduleKind k);
LrScheduleKind parse_lr_schedule(const std::string& name);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::constant;
  int64_t step_size = 10;  // step: epochs between decays
  double gamma = 0.1;      // step: the decay factor
  int64_t total = 1;       // cosine: epochs to reach min_lr
  double min_lr = 0;       // cosine: the floor

  double at(double base_lr, int64_t epoch) const;  // epoch counts from 0
};

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
