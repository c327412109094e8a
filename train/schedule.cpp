#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace ae::models {

const char* lr_schedule_name(LrScheduleKind k) {
  switch (k) {
    case LrScheduleKind::constant: return "constant";
    case LrScheduleKind::step: return "step";
    case LrScheduleKind::cosine: return "cosine";
  }
  fail(cat("lr_schedule_name: unknown schedule ", static_cast<int>(k)));
}

LrScheduleKind parse_lr_schedule(const std::string& name) {
  for (LrScheduleKind k : {LrScheduleKind::constant, LrScheduleKind::step, LrScheduleKind::cosine})
    if (name == lr_schedule_name(k)) return k;
  fail(cat("'", name, "' is not one of constant, step, cosine"));
}

double LrSchedule::at(double base_lr, int64_t epoch) const {
  AE_CHECK(epoch >= 0, "LrSchedule: negative epoch ", epoch);
  switch (kind) {
    case LrScheduleKind::constant: return base_lr;
    case LrScheduleKind::step:
      AE_CHECK(step_size > 0, "LrSchedule: step_size must be positive, got ", step_size);
      return base_lr * std::pow(gamma, static_cast<double>(epoch / step_size));
    case LrScheduleKind::cosine: {
      AE_CHECK(total > 0, "LrSchedule: cosine total must be positive, got ", total);
      double t = static_cast<double>(std::min(epoch, total)) / static_cast<double>(total);
      return min_lr + (base_lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * t));
    }
  }
  fail("LrSchedule: unknown kind");
}

double warmup_lr(double lr, int64_t step, int64_t warmup_steps) {
  if (warmup_steps <= 0) return lr;
  return lr * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup_steps));
}

}  // namespace ae::models
