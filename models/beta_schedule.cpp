#include "models/beta_schedule.h"

#include <algorithm>

#include "core/error.h"

namespace ae::models {

const char* beta_schedule_name(BetaScheduleKind k) {
  switch (k) {
    case BetaScheduleKind::constant: return "constant";
    case BetaScheduleKind::warmup: return "warmup";
    case BetaScheduleKind::cyclical: return "cyclical";
  }
  fail(cat("beta_schedule_name: unknown schedule ", static_cast<int>(k)));
}

BetaScheduleKind parse_beta_schedule(const std::string& name) {
  for (BetaScheduleKind k :
       {BetaScheduleKind::constant, BetaScheduleKind::warmup, BetaScheduleKind::cyclical})
    if (name == beta_schedule_name(k)) return k;
  fail(cat("'", name, "' is not one of constant, warmup, cyclical"));
}

double BetaSchedule::at(int64_t step) const {
  AE_CHECK(step >= 0, "BetaSchedule: negative step ", step);
  switch (kind) {
    case BetaScheduleKind::constant: return value;
    case BetaScheduleKind::warmup:
      AE_CHECK(warmup_steps > 0, "BetaSchedule: warmup_steps must be positive, got ", warmup_steps);
      return value * std::min(1.0, static_cast<double>(step) / static_cast<double>(warmup_steps));
    case BetaScheduleKind::cyclical: {
      AE_CHECK(period > 0 && ratio > 0 && ratio <= 1, "BetaSchedule: cyclical needs period > 0 ",
               "and ratio in (0, 1], got period ", period, " ratio ", ratio);
      double tau = static_cast<double>(step % period) / static_cast<double>(period);
      return value * std::min(1.0, tau / ratio);
    }
  }
  fail("BetaSchedule: unknown kind");
}

}  // namespace ae::models
