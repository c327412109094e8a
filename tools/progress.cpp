#include "tools/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace ae::cli {

using namespace ae::run;

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return text;
}

namespace {

std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, std::abs(v) >= 1e5 || (v != 0 && std::abs(v) < 1e-3) ? "%.3e" : "%.4g", v);
  return text;
}

std::string rate(double per_second) {
  char text[32];
  if (per_second >= 1e6)
    std::snprintf(text, sizeof text, "%.1fM", per_second / 1e6);
  else if (per_second >= 1e4)
    std::snprintf(text, sizeof text, "%.0fk", per_second / 1e3);
  else
    std::snprintf(text, sizeof text, "%.0f", per_second);
  return text;
}

const char* short_name(const std::string& term) {
  if (term == "reconstruction") return "rec";
  if (term == "penalty") return "pen";
  if (term == "kl") return "kl";
  return "loss";
}

}  // namespace

Progress::Mode Progress::choose(bool quiet) {
  if (quiet) return Mode::quiet;
  return isatty(STDERR_FILENO) ? Mode::bar : Mode::log;
}

Progress::Progress(Mode mode, int64_t total_epochs, int64_t samples_per_epoch,
                   std::vector<std::string> terms)
    : mode_(mode), total_epochs_(total_epochs), samples_per_epoch_(samples_per_epoch),
      terms_(std::move(terms)) {}

void Progress::begin_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_start_ = Clock::now();
  last_draw_ = epoch_start_;
}

bool Progress::due() const {
  return mode_ == Mode::bar && Clock::now() - last_draw_ >= std::chrono::milliseconds(100);
}

std::string Progress::format_terms(const models::LossValues& v) const {
  std::string out;
  for (const std::string& t : terms_) {
    if (!out.empty()) out += " ";
    out += cat(short_name(t), " ", short_number(term(v, t)));
  }
  return out;
}

void Progress::update(int64_t samples_done, const models::LossValues& running) {
  if (mode_ != Mode::bar) return;
  const Clock::time_point now = Clock::now();
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double fraction = samples_per_epoch_ > 0
                              ? static_cast<double>(samples_done) / static_cast<double>(samples_per_epoch_)
                              : 0;
  const double per_second = elapsed > 0 ? static_cast<double>(samples_done) / elapsed : 0;
  // The ETA: whole epochs at the mean epoch time measured so far (validation included), the
  // first epoch extrapolated from its own pace.
  const double epoch_time = epochs_done_this_session_ > 0
                                ? seconds_this_session_ / static_cast<double>(epochs_done_this_session_)
                                : (fraction > 0 ? elapsed / fraction : NAN);
  const double left = epoch_time * (static_cast<double>(total_epochs_ - epoch_) - fraction);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(std::lround(std::min(1.0, fraction) * kWidth));
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
  char head[160];
  std::snprintf(head, sizeof head, "epoch %lld/%lld [%s] %3.0f%% %s samples/s ETA %s  ",
                static_cast<long long>(epoch_ + 1), static_cast<long long>(total_epochs_),
                bar.c_str(), 100 * fraction, rate(per_second).c_str(), format_duration(left).c_str());
  std::string line = head + format_terms(running);
  // A line wider than the terminal would wrap, and "\r" would then redraw only its tail.
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col)
    line.resize(ws.ws_col - 1);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  bar_drawn_ = true;
}

void Progress::clear_bar() {
  if (!bar_drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  bar_drawn_ = false;
}

void Progress::end_epoch(const EpochMetrics& m, bool best) {
  ++epochs_done_this_session_;
  seconds_this_session_ += m.seconds;
  if (mode_ == Mode::quiet) return;
  clear_bar();
  std::string line = cat("epoch ", m.epoch, "/", total_epochs_, "  train ", format_terms(m.train));
  if (m.has_val) line += cat("  val ", format_terms(m.val));
  if (m.sparsity.sae)
    line += cat("  L0 ", short_number(m.sparsity.l0), "  FVU ", short_number(m.sparsity.fvu),
                "  dead ", m.sparsity.dead_latents);
  line += cat("  ", short_number(m.seconds), " s  ", rate(m.samples_per_second), " samples/s");
  if (best) line += "  *";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Progress::note(const std::string& line) {
  if (mode_ == Mode::quiet) return;
  clear_bar();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Progress::warn(const std::string& line) {
  if (mode_ != Mode::quiet) clear_bar();
  std::fflush(stdout);
  std::fprintf(stderr, "ae: warning: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace ae::cli
