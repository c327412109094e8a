// Writes the peer files of the step benchmark (bench/peer_data.h) on any device, without timing
// anything: what the CPU test of the PyTorch peers' safetensors reader reads, and a way to check
// the peers' loss equivalence against a CPU run of ae.
//
// usage: ae_peer_files --out DIR [--device cpu|cuda] [--models ae,dae,...] [--rows 4096]
//                      [--batch 256] [--steps 16]
// Writes DIR/peer_<model>.safetensors and prints ae's losses, one line per model.
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "bench/peer_data.h"
#include "core/error.h"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int64_t positive(const std::string& flag, const std::string& value) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  AE_CHECK(used == value.size() && v > 0, "ae_peer_files: ", flag, " needs a positive integer, got '",
           value, "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string out, device = "cpu", models = "ae,dae,sparse,contractive,vae";
    int64_t rows = 4096, batch = 256, steps = 16;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      AE_CHECK(i + 1 < argc, "ae_peer_files: ", flag, " needs a value");
      const std::string value = argv[++i];
      if (flag == "--out") out = value;
      else if (flag == "--device") device = value;
      else if (flag == "--models") models = value;
      else if (flag == "--rows") rows = positive(flag, value);
      else if (flag == "--batch") batch = positive(flag, value);
      else if (flag == "--steps") steps = positive(flag, value);
      else ae::fail(ae::cat("ae_peer_files: unknown flag ", flag));
    }
    AE_CHECK(!out.empty(), "ae_peer_files: --out DIR is required");
    std::filesystem::create_directories(out);
    const ae::Tensor data = ae::bench::bench_data(rows);
    for (const std::string& name : split(models)) {
      const ae::bench::BenchModel m = ae::bench::parse_bench_model(name);
      const std::string path = out + "/peer_" + name + ".safetensors";
      const std::vector<double> losses =
          ae::bench::write_peer_file(m, data, batch, steps, ae::Device::parse(device), path);
      std::printf("%s:", name.c_str());
      for (double l : losses) std::printf(" %.6g", l);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae_peer_files: %s\n", e.what());
    return 2;
  }
}
