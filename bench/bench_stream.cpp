// Streaming against in-memory training on the CPU: one process per measurement (run_stream.sh
// alternates them), each printing one JSON line: the mode, the seconds of each epoch, samples/s,
// the epoch's reads alone (no training) and the process's peak RSS.
//
//   ae_bench_stream --generate FILE --mib N            write a (rows, 256) float32 .npy of N MiB
//   ae_bench_stream --mode memory|stream --data FILE [--buffer-mb 64] [--epochs 2] [--batch 256]
//
// memory: the file read whole into a tensor, the shuffled order (what ae train does with data in
// memory); stream: models::StreamedRows over the file with the block-shuffled order. The same
// model (256-64-16, sigmoid, cross-entropy, Adam) and batches of the same size either way.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "models/autoencoder.h"
#include "data/stream.h"
#include "train/trainer.h"
#include "tests/common/large_npy.h"

namespace {

using namespace ae;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Rows of rank-4 structure in [0, 1] (tests/common/large_npy.h), mib MiB of them.
void generate(const std::string& path, int64_t mib) {
  const int64_t f = 256;
  try {
    testing::write_structured_npy(path, (mib << 20) / (f * 4), f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, data, gen;
  int64_t mib = 512, buffer_mb = 64, epochs = 2, batch = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") mode = v;
    else if (k == "--data") data = v;
    else if (k == "--generate") gen = v;
    else if (k == "--mib") mib = std::atoll(v.c_str());
    else if (k == "--buffer-mb") buffer_mb = std::atoll(v.c_str());
    else if (k == "--epochs") epochs = std::atoll(v.c_str());
    else if (k == "--batch") batch = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "ae_bench_stream: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (!gen.empty()) {
    generate(gen, mib);
    return 0;
  }
  if ((mode != "memory" && mode != "stream") || data.empty()) {
    std::fprintf(stderr, "usage: ae_bench_stream --mode memory|stream --data FILE [--buffer-mb N] "
                         "[--epochs N] [--batch N] | --generate FILE --mib N\n");
    return 2;
  }
  try {
    auto files = std::make_shared<models::RowFiles>(data);
    const auto load_started = Clock::now();
    std::unique_ptr<models::RowSource> rows;
    if (mode == "memory") {
      models::StreamedRows all(files, models::StreamOptions{});
      rows = std::make_unique<models::InMemoryRows>(all.stored_rows(0, all.size()), Device::cpu(),
                                                    models::RowOrder{models::OrderKind::shuffled, 1});
    } else {
      models::StreamOptions o;
      o.buffer_bytes = buffer_mb << 20;
      o.seed = 1;
      rows = std::make_unique<models::StreamedRows>(files, o);
    }
    const double load_seconds = since(load_started);
    const int64_t n = rows->size();

    // The epoch's reads alone: what the source costs without training.
    auto started = Clock::now();
    rows->seek_epoch(epochs);  // an epoch the training below does not use
    for (int64_t lo = 0; lo < n; lo += batch) rows->read(lo, std::min(n, lo + batch));
    const double read_seconds = since(started);

    models::AutoencoderConfig c;
    c.widths = {files->features(), 64, 16};
    models::Autoencoder model(c, 1, Device::cpu());
    models::TrainerConfig t;
    t.epochs = epochs;
    t.batch_size = batch;
    t.optimizer.lr = 1e-3;
    std::string per_epoch;
    t.on_epoch = [&](const models::EpochReport& r, const models::TrainingState&, models::TrainStep&) {
      per_epoch += (per_epoch.empty() ? "" : ", ") + std::to_string(r.seconds);
    };
    started = Clock::now();
    models::Trainer(t).fit(model, *rows);
    const double train_seconds = since(started);
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"mode\": \"%s\", \"rows\": %lld, \"features\": %lld, \"file_mib\": %.1f, "
                "\"buffer_mb\": %lld, \"batch\": %lld, \"load_s\": %.3f, \"read_epoch_s\": %.3f, "
                "\"epoch_s\": [%s], \"samples_per_s\": %.0f, \"peak_rss_mib\": %.1f}\n",
                mode.c_str(), static_cast<long long>(n), static_cast<long long>(files->features()),
                files->data_bytes() / 1048576.0, static_cast<long long>(mode == "stream" ? buffer_mb : 0),
                static_cast<long long>(batch), load_seconds, read_seconds, per_epoch.c_str(),
                static_cast<double>(n * epochs) / train_seconds, usage.ru_maxrss / 1024.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_bench_stream: %s\n", e.what());
    return 2;
  }
  return 0;
}
