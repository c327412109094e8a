#include "run/run_folder.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/file.h"
#include "run/config.h"

namespace ae::run {
namespace fs = std::filesystem;

std::string join_path(const std::string& folder, const std::string& file) {
  return (fs::path(folder) / file).string();
}

std::string default_run_folder(const std::string& model_kind) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  const std::string base = join_path("runs", model_kind + "-" + stamp);
  std::string folder = base;
  for (int k = 2; fs::exists(folder); ++k) folder = base + "-" + std::to_string(k);
  return folder;
}

void check_new_run_folder(const std::string& folder) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) return;
  AE_CHECK(fs::is_directory(folder, ec), folder, ": exists and is not a folder");
  for (const char* f : {kConfigFile, kLatestCheckpoint, kBestCheckpoint})
    AE_CHECK(!fs::exists(join_path(folder, f), ec), folder, ": already holds a run (", f,
             "); continue it with --resume ", folder, " or pick another --out");
}

void create_run_folder(const std::string& folder) {
  check_new_run_folder(folder);
  std::error_code ec;
  if (fs::exists(folder, ec)) return;
  fs::create_directories(folder, ec);
  if (ec) fail(cat(folder, ": cannot create the run folder: ", ec.message()), ErrorKind::file,
               ec.value());
}

std::string find_checkpoint(const std::string& where, const std::string& which) {
  std::error_code ec;
  io::check_exists(where);
  if (!fs::is_directory(where, ec)) return where;
  AE_CHECK(which == "best" || which == "latest", "--checkpoint: unknown value '", which,
           "' (best, latest)");
  const std::string best = join_path(where, kBestCheckpoint);
  const std::string latest = join_path(where, kLatestCheckpoint);
  if (which == "best" && fs::exists(best, ec)) return best;
  if (!fs::exists(latest, ec))
    fail(cat(where, ": no ", which == "best" ? kBestCheckpoint : "", which == "best" ? " or " : "",
             kLatestCheckpoint, " (not a run folder of ae train?)"),
         ErrorKind::file, ENOENT);
  return latest;
}

std::string run_folder_of(const std::string& checkpoint_path) {
  const fs::path parent = fs::path(checkpoint_path).parent_path();
  return parent.empty() ? "." : parent.string();
}

std::vector<std::string> loss_terms(const models::ModelSpec& spec) {
  std::vector<std::string> terms{"total", "reconstruction"};
  if (spec.kind == models::ModelKind::vae) {
    terms.push_back("kl");
  } else if (spec.kind == models::ModelKind::sae) {
    terms.push_back("penalty");  // the sparsity term (λ) and AuxK (α)
  } else {
    const models::AutoencoderConfig& a = spec.autoencoder;
    if (a.penalty != models::CodePenalty::none || a.l1 > 0 || a.l2 > 0) terms.push_back("penalty");
  }
  return terms;
}

double term(const models::LossValues& v, const std::string& name) {
  if (name == "total") return v.total;
  if (name == "reconstruction") return v.reconstruction;
  if (name == "penalty") return v.penalty;
  if (name == "kl") return v.kl;
  fail(cat("unknown loss term '", name, "'"));
}

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[40];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

// JSON has no NaN or infinity: they are written as null.
json json_number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double from_json_number(const json& v) {
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

models::LossValues losses_from(const json& j, const std::vector<std::string>& terms) {
  models::LossValues v;
  for (const std::string& t : terms) {
    if (!j.contains(t)) continue;
    const double x = from_json_number(j[t]);
    if (t == "total") v.total = x;
    if (t == "reconstruction") v.reconstruction = x;
    if (t == "penalty") v.penalty = x;
    if (t == "kl") v.kl = x;
  }
  return v;
}

}  // namespace

void write_metrics(const std::string& folder, const std::vector<EpochMetrics>& history,
                   const std::vector<std::string>& terms, const models::CodeActivity* code,
                   const std::string& code_split) {
  std::string csv = "epoch";
  for (const char* part : {"train", "val"})
    for (const std::string& t : terms) csv += cat(",", part, "_", t);
  csv += ",lr,steps,seconds,samples_per_second";
  // A sparse code's columns (all of a run's epochs have them, or none).
  const auto measured = std::find_if(history.begin(), history.end(),
                                     [](const EpochMetrics& m) { return m.sparsity.measured; });
  std::vector<std::string> columns;
  if (measured != history.end())
    for (const auto& [name, value] : sparsity_columns(measured->sparsity)) columns.push_back(name);
  for (const std::string& c : columns) csv += "," + c;
  csv += "\n";
  json rows = json::array();
  for (const EpochMetrics& m : history) {
    csv += std::to_string(m.epoch);
    for (const std::string& t : terms) csv += "," + number(term(m.train, t));
    for (const std::string& t : terms) csv += "," + (m.has_val ? number(term(m.val, t)) : "");
    csv += cat(",", number(m.lr), ",", m.steps, ",", number(m.seconds), ",",
               number(m.samples_per_second));
    const Sparsity& sp = m.sparsity;
    const std::vector<std::pair<std::string, double>> values =
        sp.measured ? sparsity_columns(sp) : std::vector<std::pair<std::string, double>>{};
    for (size_t i = 0; i < columns.size(); ++i)
      csv += "," + (i < values.size() ? number(values[i].second) : std::string());
    csv += "\n";
    json row = {{"epoch", m.epoch}, {"lr", json_number(m.lr)}, {"steps", m.steps},
                {"seconds", json_number(m.seconds)},
                {"samples_per_second", json_number(m.samples_per_second)}};
    json train = json::object(), val = json::object();
    for (const std::string& t : terms) {
      train[t] = json_number(term(m.train, t));
      if (m.has_val) val[t] = json_number(term(m.val, t));
    }
    row["train"] = train;
    if (m.has_val) row["val"] = val;
    if (sp.measured) {
      row["code"] = json::object();
      for (const auto& [name, value] : values) row["code"][name] = json_number(value);
    }
    rows.push_back(row);
  }
  write_text(join_path(folder, kMetricsCsv), csv);
  json doc = {{"terms", terms}, {"epochs", rows}};
  if (code != nullptr)
    doc["code"] = {{"split", code_split},
                   {"units", code->units},
                   {"constant_units", code->constant.size()},
                   {"constant", code->constant},
                   {"stddev_tolerance", json_number(code->tolerance)}};
  write_text(join_path(folder, kMetricsJson), doc.dump(2) + "\n");
}

std::vector<std::pair<std::string, double>> sparsity_columns(const Sparsity& s) {
  std::vector<std::pair<std::string, double>> out{
      {"l0", s.l0}, {"dead_fraction", s.dead_fraction}, {"dense_fraction", s.dense_fraction}};
  if (s.sae) {
    out.insert(out.end(), {{"mse", s.mse},
                           {"fvu", s.fvu},
                           {"explained_variance", 1 - s.fvu},
                           {"dead_latents", static_cast<double>(s.dead_latents)},
                           {"auxk", s.auxk}});
  }
  return out;
}

std::vector<EpochMetrics> read_metrics(const std::string& folder) {
  const std::string path = join_path(folder, kMetricsJson);
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  const json doc = read_json_file(path);
  AE_CHECK(doc.is_object() && doc.contains("terms") && doc["terms"].is_array() &&
               doc.contains("epochs") && doc["epochs"].is_array(),
           path, ": expected {\"terms\": [...], \"epochs\": [...]}");
  std::vector<std::string> terms;
  for (const json& t : doc["terms"]) {
    AE_CHECK(t.is_string(), path, ": terms must be strings, got ", t.dump());
    terms.push_back(t.get<std::string>());
  }
  std::vector<EpochMetrics> out;
  for (const json& row : doc["epochs"]) {
    AE_CHECK(row.is_object() && row.contains("epoch") && row["epoch"].is_number_integer() &&
                 row.contains("train") && row["train"].is_object(),
             path, ": malformed epoch entry ", row.dump());
    EpochMetrics m;
    m.epoch = row["epoch"].get<int64_t>();
    m.train = losses_from(row["train"], terms);
    m.has_val = row.contains("val");
    if (m.has_val) m.val = losses_from(row["val"], terms);
    if (row.contains("lr")) m.lr = from_json_number(row["lr"]);
    if (row.contains("steps") && row["steps"].is_number_integer()) m.steps = row["steps"].get<int64_t>();
    if (row.contains("seconds")) m.seconds = from_json_number(row["seconds"]);
    if (row.contains("samples_per_second"))
      m.samples_per_second = from_json_number(row["samples_per_second"]);
    if (row.contains("code") && row["code"].is_object()) {
      const json& c = row["code"];
      Sparsity& sp = m.sparsity;
      sp.measured = true;
      sp.l0 = from_json_number(c.value("l0", json()));
      sp.dead_fraction = from_json_number(c.value("dead_fraction", json()));
      sp.dense_fraction = from_json_number(c.value("dense_fraction", json()));
      sp.sae = c.contains("fvu");
      if (sp.sae) {
        sp.mse = from_json_number(c.value("mse", json()));
        sp.fvu = from_json_number(c.value("fvu", json()));
        sp.auxk = from_json_number(c.value("auxk", json()));
        const double dead = from_json_number(c.value("dead_latents", json()));
        sp.dead_latents = std::isfinite(dead) ? static_cast<int64_t>(dead) : 0;
      }
    }
    out.push_back(m);
  }
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  io::write_file_atomic(path, [&](io::FileSink& sink) { sink.write(text); });
}

}  // namespace ae::run
