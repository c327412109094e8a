// The learning rate over epochs.
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

// A linear warm-up over the first `warmup_steps` optimizer steps: step t (from 0) runs at
// lr · min(1, (t + 1) / warmup_steps); lr itself when warmup_steps <= 0.
double warmup_lr(double lr, int64_t step, int64_t warmup_steps);

}  // namespace ae::models
