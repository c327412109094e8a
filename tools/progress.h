// Training progress on the console. On a terminal: one line redrawn in place with the epoch, a
// bar, samples/s, the ETA and the current loss terms, then a permanent line per epoch. Not on a
// terminal (a log file, a pipe): only the per-epoch lines. Quiet: nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "models/autoencoder.h"
#include "run/run_folder.h"

namespace ae::cli {

class Progress {
 public:
  enum class Mode : uint8_t { bar, log, quiet };
  // bar when stderr is a terminal, else log; quiet wins.
  static Mode choose(bool quiet);

  Progress(Mode mode, int64_t total_epochs, int64_t samples_per_epoch,
           std::vector<std::string> terms);

  void begin_epoch(int64_t epoch);  // from 0
  // True at most ~10 times a second in bar mode: only then is the loss worth reading (reading
  // it waits for the device).
  bool due() const;
  void update(int64_t samples_done, const models::LossValues& running);
  void end_epoch(const run::EpochMetrics& metrics, bool best);
  // A line of its own (the bar, if drawn, is cleared first).
  void note(const std::string& line);
  // "ae: warning: <line>" on stderr, even with -q: something the user should act on.
  void warn(const std::string& line);
  // Erases the progress bar, if drawn, so that a message of the caller's starts a clean line.
  void clear_bar();

 private:
  using Clock = std::chrono::steady_clock;
  std::string format_terms(const models::LossValues& v) const;

  Mode mode_;
  int64_t total_epochs_, samples_per_epoch_;
  std::vector<std::string> terms_;
  int64_t epoch_ = 0;
  int64_t epochs_done_this_session_ = 0;
  double seconds_this_session_ = 0;
  Clock::time_point epoch_start_;
  Clock::time_point last_draw_;
  bool bar_drawn_ = false;
};

// "1:05" or "1:02:05".
std::string format_duration(double seconds);

}  // namespace ae::cli
