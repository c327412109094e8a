#include "run/prepare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include "core/autograd.h"
#include "core/error.h"
#include "data/file.h"
#include "data/sniff.h"
#include "run/sae_formats.h"

namespace ae::run {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

io::CsvOptions csv_options(const DataSettings& d) {
  io::CsvOptions o;
  o.delimiter = delimiter_char(d.delimiter);
  o.decimal = d.decimal.at(0);
  o.header = d.header == "yes" ? io::CsvHeader::Yes : d.header == "no" ? io::CsvHeader::No
                                                                        : io::CsvHeader::Auto;
  o.skip_rows = d.skip_rows;
  if (!d.label_column.empty()) {
    const bool numeric = std::all_of(d.label_column.begin(), d.label_column.end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
    if (numeric)
      o.label_index = std::stoll(d.label_column);
    else
      o.label_name = d.label_column;
  }
  return o;
}

models::Dataset normalised(const models::Dataset& d, const std::optional<models::Normalizer>& norm) {
  if (!norm) return d;
  NoGradGuard no_grad;
  return norm->apply(d);
}

// Splits `rows` of d into those whose label is not in `excluded` (kept) and those whose label is.
void partition_by_labels(const models::Dataset& d, const LabelList& excluded,
                         const std::vector<int64_t>& rows, std::vector<int64_t>& kept,
                         std::vector<int64_t>& dropped) {
  AE_CHECK(d.has_labels(), "--exclude-labels needs labelled data; ", d.name, " has no labels");
  for (int64_t r : rows) {
    const bool out = std::find(excluded.values.begin(), excluded.values.end(), d.labels[r]) !=
                     excluded.values.end();
    (out ? dropped : kept).push_back(r);
  }
}

models::OptimizerConfig optimizer_config(const TrainSettings& t) {
  models::OptimizerConfig o;
  o.kind = models::parse_optimizer(t.optimizer);
  o.lr = t.lr;
  o.momentum = t.momentum;
  o.nesterov = t.nesterov;
  o.beta1 = t.adam_beta1;
  o.beta2 = t.adam_beta2;
  o.eps = t.adam_eps;
  o.weight_decay = t.weight_decay;
  return o;
}

models::LrSchedule lr_schedule(const TrainSettings& t) {
  models::LrSchedule s;
  s.kind = models::parse_lr_schedule(t.lr_schedule);
  s.step_size = t.lr_step_size;
  s.gamma = t.lr_gamma;
  s.total = t.lr_cosine_epochs > 0 ? t.lr_cosine_epochs : t.epochs;
  s.min_lr = t.lr_min;
  return s;
}

}  // namespace

std::string detect_format(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A folder of .npy or .safetensors shards (models::RowFiles), else MNIST-style IDX files.
    bool npy = false, st = false, idx = false;
    for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
      const std::string name = e.path().filename().string();
      npy |= ends_with(name, ".npy");
      st |= ends_with(name, ".safetensors");
      idx |= name.find("ubyte") != std::string::npos;
    }
    return idx || (!npy && !st) ? "idx" : npy ? "npy" : "safetensors";
  }
  // The content first (this also reports a missing file by name): a file ae does not read is
  // named for what it is, whatever it is called.
  const io::FileKind kind = io::sniff_file(path);
  if (!kind.format.empty()) return kind.format;
  if (!kind.what.empty()) fail(io::not_readable_message(path, kind));
  // Nothing recognised (an empty file, or bytes of no known kind): the name decides, and the
  // reader says what is wrong.
  std::string name = lower(fs::path(path).filename().string());
  if (ends_with(name, ".gz")) name.resize(name.size() - 3);
  if (ends_with(name, ".csv") || ends_with(name, ".tsv") || ends_with(name, ".txt")) return "csv";
  if (ends_with(name, ".npy")) return "npy";
  if (ends_with(name, ".npz")) return "npz";
  if (name.find("ubyte") != std::string::npos || name.find(".idx") != std::string::npos ||
      name.find("idx1") != std::string::npos || name.find("idx3") != std::string::npos)
    return "idx";
  io::InputFile file(path);
  uint8_t head[8] = {};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(file.size(), sizeof head));
  file.read_at(0, head, n);
  std::string hex;
  for (size_t i = 0; i < n; ++i) {
    static const char* digits = "0123456789abcdef";
    hex += cat(i ? " " : "", digits[head[i] >> 4], digits[head[i] & 15]);
  }
  fail(cat(path, ": cannot tell the data format: ",
           n == 0 ? std::string("the file is empty")
                  : cat("its first bytes (", hex, ") are not those of an IDX, .npy or .npz file, nor text"),
           "; ae reads IDX, .npy, .npz and CSV files (--format)"));
}

models::Dataset load_data(const DataSettings& d) {
  models::Dataset data;
  if (d.path.empty()) {
    models::ShapesOptions o;
    o.samples = d.shapes_samples;
    o.seed = d.seed;
    o.noise = d.shapes_noise;
    data = models::make_shapes(o);
  } else {
    io::check_exists(d.path);
    const std::string format = d.format == "auto" ? detect_format(d.path) : d.format;
    if (d.format != "auto" && std::filesystem::is_regular_file(d.path)) {
      // --format names how to read the file; one ae does not read at all is still named.
      const io::FileKind kind = io::sniff_file(d.path);
      if (kind.format.empty() && !kind.what.empty()) fail(io::not_readable_message(d.path, kind));
    }
    AE_CHECK(d.npz_key.empty() || format == "npz" || format == "safetensors",
             "--npz-key is for .npz and .safetensors data; ", d.path, " is ", format);
    if (format == "csv") {
      AE_CHECK(d.labels.empty() && d.labels_key.empty(), "--labels is for IDX, NPY and NPZ data; "
               "a CSV file names its label column with --label-column");
      data = models::load_csv(d.path, csv_options(d));
    } else {
      AE_CHECK(d.label_column.empty(), "--label-column is for CSV data; ", d.path, " is ", format);
      AE_CHECK(d.skip_rows == 0, "--skip-rows is for CSV data; ", d.path, " is ", format);
      if (format == "safetensors" || (format == "npy" && std::filesystem::is_directory(d.path))) {
        // One .safetensors file, or a folder of shards: read as --stream reads them.
        AE_CHECK(d.labels.empty() && d.labels_key.empty(), "--labels and --labels-key are for "
                 "IDX, single .npy and .npz data; ", d.path, " is ",
                 std::filesystem::is_directory(d.path) ? "a folder of shards" : "a safetensors file");
        AE_CHECK(std::filesystem::is_directory(d.path) || !io::sniff_file(d.path).gzip, d.path,
                 ": a gzip-compressed safetensors file: gunzip it first");
        data = models::load_rows(d.path, d.npz_key);
      } else if (format == "npy") {
        data = models::load_npy(d.path, d.labels, d.labels_key);
      } else if (format == "npz") {
        data = models::load_npz(d.path, d.npz_key, d.labels, d.labels_key);
      } else {
        AE_CHECK(d.labels_key.empty(), "--labels-key names an array of a .npz file; ", d.path,
                 " is IDX, whose labels are an IDX file (--labels)");
        // Folders and "*-ubyte" files are MNIST-style 8-bit pictures, scaled to [0, 1]; other
        // IDX files are read as they are.
        const std::string name = std::filesystem::path(d.path).filename().string();
        if (std::filesystem::is_directory(d.path) || name.find("ubyte") != std::string::npos)
          data = models::load_mnist(d.path, d.labels);
        else
          data = models::load_idx(d.path, d.labels);
      }
    }
  }
  models::validate(data);
  if (d.limit > 0 && d.limit < data.size()) data = models::subset(data, d.limit);
  return data;
}

PreparedData prepare_data(const DataSettings& d) {
  AE_CHECK(!d.stream, d.path, ": --stream is for ae train; this command reads the data in memory");
  return prepare_data(load_data(d), d);
}

std::string resolve_auto_model(RunConfig& config, int64_t features, bool pictures) {
  if (config.model.kind != "auto") return "";
  AE_CHECK(features > 0, "resolve_auto_model: ", features, " features");
  RunConfig r = preset(pictures ? "vae" : "ae");
  json given = given_settings(config);
  if (given.contains("model")) given["model"].erase("kind");
  apply_json(r, given, "the given settings");
  r.given = config.given;
  auto keep = [&](const char* key) { return config.given.count(key) > 0; };
  std::string reason;
  if (pictures) {
    reason = cat("pictures of ", features, " values: the VAE");
  } else {
    const int64_t k = std::clamp<int64_t>(
        std::llround(std::sqrt(static_cast<double>(features))), 2, 32);
    const int64_t hidden = std::max<int64_t>(2 * k, std::min<int64_t>(features, 64));
    if (!keep("model.code")) r.model.code = k;
    if (!keep("model.hidden")) r.model.hidden = {hidden};
    if (!keep("model.code_activation")) r.model.code_activation = "identity";
    if (r.data.normalize == "auto") r.data.normalize = "standardize";
    reason = cat("a table of ", features, " features: the autoencoder of the anomaly-detection "
                 "defaults (code ", r.model.code, keep("model.code") ? "" : cat(" = round(√", features, ") in [2, 32]"),
                 ", hidden ", r.model.hidden.size() == 1 ? cat(r.model.hidden[0]) : std::string("as given"),
                 ", ", r.model.code_activation, " code, ", r.data.normalize, ")");
  }
  config = std::move(r);
  return reason;
}

PreparedData prepare_for_model(RunConfig& config, std::string& reason) {
  AE_CHECK(!config.data.stream, config.data.path,
           ": --stream is for ae train; this command reads the data in memory");
  models::Dataset all = load_data(config.data);
  models::validate(all);
  reason = resolve_auto_model(config, all.features(), all.is_image());
  resolve_sae_normalization(config);
  return prepare_data(std::move(all), config.data);
}

PreparedData prepare_for_model(RunConfig& config, const models::Dataset& all, std::string& reason) {
  models::validate(all);
  reason = resolve_auto_model(config, all.features(), all.is_image());
  resolve_sae_normalization(config);
  return prepare_data(all, config.data);
}

void open_stream(StreamPlan& plan, const RunConfig& config, Device device, DType dtype,
                 std::optional<models::StreamedRows>& train,
                 std::optional<models::StreamedRows>& val) {
  plan.train.device = device;
  plan.train.dtype = dtype;
  train.emplace(plan.files, plan.train);
  AE_CHECK(config.train.batch_size <= train->size(), "--batch-size ", config.train.batch_size,
           " exceeds the ", train->size(), " training rows of ", config.data.path,
           ": lower --batch-size");
  AE_CHECK(config.train.batch_size <= train->max_read(), "--batch-size ",
           config.train.batch_size, " does not fit in a window of the stream's buffer (",
           train->max_read(), " rows of ", train->features(), " features); raise --buffer-mb (",
           config.data.buffer_mb, ")");
  if (plan.val) {
    plan.val->device = device;
    plan.val->dtype = dtype;
    val.emplace(plan.files, *plan.val);
  }
}

StreamPlan plan_stream(const DataSettings& d, uint64_t order_seed) {
  io::check_exists(d.path);
  if (!std::filesystem::is_directory(d.path) &&
      lower(std::filesystem::path(d.path).extension().string()) != ".safetensors") {
    // What --stream reads, said in terms of what the file is.
    const io::FileKind kind = io::sniff_file(d.path);
    if (kind.format.empty() && !kind.what.empty()) fail(io::not_readable_message(d.path, kind));
    const std::string what = kind.gzip               ? "gzip-compressed, and --stream reads it in "
                                                       "place: gunzip it first"
                             : kind.format == "csv" ? "CSV text, which is parsed whole: train on "
                                                       "it without --stream, or save its values "
                                                       "once as a float32 .npy and stream that"
                             : kind.format == "npz" ? "a .npz archive, whose arrays are read "
                                                       "whole: train on it without --stream, or "
                                                       "save the array as a .npy (np.save) and "
                                                       "stream that"
                             : kind.format == "idx" ? "an IDX file: train on it without --stream"
                                                    : "";
    AE_CHECK((kind.format == "npy" || kind.format == "safetensors") && !kind.gzip,
             "--stream reads .npy and .safetensors files and folders of their shards; ", d.path,
             " is ", what.empty() ? "none of them" : what);
  }
  StreamPlan plan;
  auto files = std::make_shared<models::RowFiles>(d.path, d.npz_key);
  plan.files = files;
  models::StreamOptions o;
  o.buffer_bytes = d.buffer_mb << 20;
  o.seed = order_seed;
  // Blocks of 1 MiB, or of a 256th of the data when it is smaller than 256 MiB, so that a small
  // file still has blocks to shuffle and to hold out.
  const int64_t row_bytes = files->features() * static_cast<int64_t>(sizeof(float));
  o.block_bytes = std::clamp<int64_t>(files->rows() / 256 * row_bytes, row_bytes, int64_t{1} << 20);
  const std::string name = std::filesystem::path(d.path).filename().string();
  // Each part's windows hold at least a block, and two windows are held at once.
  const int64_t need = (d.validation > 0 ? 8 : 2) * o.block_bytes;
  AE_CHECK(d.buffer_mb << 20 >= need, "--buffer-mb ", d.buffer_mb, " is too small for blocks of ",
           o.block_bytes / row_bytes, " rows of ", files->features(), " features (",
           o.block_bytes, " bytes): two windows of a block each",
           d.validation > 0 ? ", the validation part's in a quarter of the buffer," : "",
           " need at least ", (need + (1 << 20) - 1) >> 20, " MiB");
  if (d.validation > 0) {
    // A quarter of the buffer for the validation part's windows, the rest for training's.
    o.buffer_bytes = (d.buffer_mb << 20) / 4 * 3;
    // The split is by block: the same block size as the sources below.
    const int64_t block_rows = o.block_bytes / row_bytes;
    const auto [train, val] = models::block_split((files->rows() + block_rows - 1) / block_rows,
                                                  d.validation, d.seed, name);
    o.part = train;
    models::StreamOptions v = o;
    v.part = val;
    v.shuffle = false;
    v.buffer_bytes = (d.buffer_mb << 20) / 4;
    plan.val = v;
  }
  plan.train = o;
  return plan;
}

PreparedData prepare_stream(const DataSettings& d, uint64_t order_seed, StreamPlan& plan) {
  plan = plan_stream(d, order_seed);
  const std::shared_ptr<const models::RowFiles>& files = plan.files;
  const models::StreamOptions& o = plan.train;
  const std::string name = std::filesystem::path(d.path).filename().string();
  PreparedData out;
  out.name = name;

  // One pass over the training blocks: the range, the moments, non-finite values refused.
  models::FeatureMoments moments;
  {
    models::StreamOptions in_order = o;
    in_order.shuffle = false;
    models::StreamedRows pass(files, in_order);
    moments = models::stream_moments(pass);
  }
  out.normalization = d.normalize;
  out.normalization_reason = d.normalize_chosen_by.empty() ? "as asked" : d.normalize_chosen_by;
  if (d.normalize == "auto") {
    const models::NormChoice choice = models::choose_normalization(moments);
    out.normalization = choice.kind ? models::norm_kind_name(*choice.kind) : "none";
    out.normalization_reason = choice.reason;
  }
  if (out.normalization == "mean_norm") {
    // The rows' norms: from the first rows of the training part, as in memory.
    models::StreamedRows first(files, o);
    out.normalizer = models::fit_normalizer(
        first.stored_rows(0, std::min(models::kMeanNormRows, first.size())), models::NormKind::mean_norm);
  } else if (out.normalization != "none") {
    out.normalizer = models::normalizer_from(moments, models::parse_norm_kind(out.normalization));
  }
  std::tie(out.low, out.high) = models::normalized_range(moments, out.normalizer);
  plan.train.normalizer = out.normalizer;
  if (plan.val) plan.val->normalizer = out.normalizer;

  // The samples: the first rows of each part, in file order.
  const int64_t row_bytes = files->features() * static_cast<int64_t>(sizeof(float));
  const int64_t most =
      std::max<int64_t>(1, std::min<int64_t>(10000, (d.buffer_mb << 20) / 16 / row_bytes));
  auto sample = [&](const models::StreamOptions& part, const std::string& label) {
    models::StreamedRows rows(files, part);
    models::Dataset s;
    s.x = rows.stored_rows(0, std::min(most, rows.size()));
    if (out.normalizer) {
      NoGradGuard no_grad;
      s.x = out.normalizer->apply(s.x);
    }
    s.image_h = files->image_h();
    s.image_w = files->image_w();
    s.image_c = files->image_c();
    s.name = cat(name, "[", label, ", first ", s.x.size(0), " of ", rows.size(), "]");
    return std::make_pair(s, rows.size());
  };
  std::tie(out.train, plan.train_rows) = sample(plan.train, d.validation > 0 ? "train" : "all");
  if (plan.val) std::tie(out.val, plan.val_rows) = sample(*plan.val, "validation");
  out.notes.push_back(cat("streaming ", d.path, " (", files->rows(), " rows of ",
                          files->features(), " features in ", files->shards(),
                          files->shards() == 1 ? " file" : " files", ", ",
                          files->data_bytes() >> 20, " MiB) through a buffer of ", d.buffer_mb,
                          " MiB; pictures and the code check use the first ", out.train.size(),
                          " rows of each part"));
  return out;
}

namespace {

// Normalises each part of `out` with out.normalizer (none: as they are), in place; when the
// parts' memory is not `owned` (the caller's array), each is copied once first.
void normalise_parts(PreparedData& out, bool owned) {
  if (out.normalizer) {
    NoGradGuard no_grad;
    for (models::Dataset* part : {&out.train, &out.val, &out.excluded}) {
      if (part->size() == 0) continue;
      if (!owned) part->x = part->x.clone();
      out.normalizer->apply_in_place(part->x);
    }
  }
  std::tie(out.low, out.high) = models::value_range(out.train.x);
}

// prepare_data over `all`, whose rows are rearranged in place when `how` is in_place (the
// caller's own copy, read from a file: the parts and their normalised values then live in its
// memory, with no second copy of the data) and copied once otherwise (another library's array),
// and only when the split or the normalisation changes them.
PreparedData prepare_parts(const models::Dataset& all, const DataSettings& d, models::Arrange how) {
  models::validate(all);
  PreparedData out;
  out.name = all.name;
  out.notes = all.notes;
  if (d.validation > 0) {
    AE_CHECK(all.size() >= 2, all.name, ": ", all.size(), " sample cannot be split for validation; "
             "pass --validation 0");
    std::tie(out.train_rows, out.val_rows) = models::split_indices(all.size(), d.validation, d.seed, all.name);
  } else {
    out.train_rows.resize(static_cast<size_t>(all.size()));
    std::iota(out.train_rows.begin(), out.train_rows.end(), int64_t{0});
  }
  if (!d.exclude_labels.values.empty()) {
    AE_CHECK(all.has_labels(), "--exclude-labels needs labelled data; ", all.name, " has no labels");
    // A label no sample carries would exclude nothing: most likely a typo or the wrong column.
    const std::set<int64_t> present(all.labels.begin(), all.labels.end());
    for (int64_t l : d.exclude_labels.values)
      if (present.count(l) == 0) {
        std::string listed;
        for (int64_t p : present) listed += cat(listed.empty() ? "" : ", ", p);
        AE_CHECK(false, "--exclude-labels: no sample of ", all.name, " has label ", l,
                 " (it has labels ", listed, ")");
      }
    std::vector<int64_t> train, val;
    partition_by_labels(all, d.exclude_labels, out.train_rows, train, out.excluded_rows);
    partition_by_labels(all, d.exclude_labels, out.val_rows, val, out.excluded_rows);
    AE_CHECK(!train.empty(), "--exclude-labels leaves none of the ", out.train_rows.size(),
             " training samples of ", all.name);
    std::sort(out.excluded_rows.begin(), out.excluded_rows.end());
    out.train_rows = std::move(train);
    out.val_rows = std::move(val);
  }
  // Training, validation and excluded rows one after the other in one buffer: all's own when
  // it may be rearranged, or when it is already in that order.
  const bool in_order = out.val_rows.empty() && out.excluded_rows.empty();
  bool owned = how == models::Arrange::in_place;
  if (in_order) {
    out.train = all;
  } else {
    std::vector<models::Dataset> parts =
        models::partition(all, {out.train_rows, out.val_rows, out.excluded_rows}, how);
    owned = true;
    out.train = std::move(parts[0]);
    out.val = std::move(parts[1]);
    out.excluded = std::move(parts[2]);
  }
  out.train.name = d.validation > 0 ? all.name + "[train]" : all.name;
  if (out.val.size() > 0) out.val.name = all.name + "[validation]";
  if (out.excluded.size() > 0) out.excluded.name = all.name + "[excluded labels]";
  out.normalization = d.normalize;
  out.normalization_reason = d.normalize_chosen_by.empty() ? "as asked" : d.normalize_chosen_by;
  if (d.normalize == "auto") {
    const models::NormChoice choice = models::choose_normalization(out.train.x);
    out.normalization = choice.kind ? models::norm_kind_name(*choice.kind) : "none";
    out.normalization_reason = choice.reason;
  }
  if (out.normalization != "none")
    out.normalizer = models::fit_normalizer(out.train.x, models::parse_norm_kind(out.normalization));
  normalise_parts(out, owned);
  return out;
}

}  // namespace

PreparedData prepare_data(models::Dataset&& all, const DataSettings& d) {
  return prepare_parts(all, d, models::Arrange::in_place);
}

PreparedData prepare_data(const models::Dataset& all, const DataSettings& d) {
  return prepare_parts(all, d, models::Arrange::copy);
}

PreparedData reload_data(const DataSettings& d, const std::optional<models::Normalizer>& norm) {
  AE_CHECK(!d.stream, d.path, " was streamed in training (--stream), and this command reads its "
           "data in memory: pass --data with rows that fit in memory");
  DataSettings raw = d;
  raw.normalize = "none";
  PreparedData out = prepare_data(raw);
  out.normalizer = norm;
  normalise_parts(out, true);  // prepare_data read the file: its memory is this call's own
  return out;
}

models::Dataset load_for_model(const DataSettings& d, const std::optional<models::Normalizer>& norm,
                               int64_t input_width) {
  models::Dataset data = load_data(d);
  AE_CHECK(data.features() == input_width, data.name, ": ", data.features(),
           " features per sample, the model expects ", input_width);
  return normalised(data, norm);
}

models::ModelSpec model_spec(const RunConfig& c, int64_t features, double low, double high,
                             const std::string& data_name) {
  const ModelSettings& m = c.model;
  const bool in_unit = low >= 0 && high <= 1;
  models::DataKind kind;
  if (m.data_kind == "auto") {
    kind = in_unit ? models::DataKind::binary : models::DataKind::real;
  } else {
    kind = models::parse_data_kind(m.data_kind);
    AE_CHECK(kind != models::DataKind::binary || in_unit, "--data-kind binary needs values in "
             "[0, 1], but the training samples of ", data_name, " hold values in [", low, ", ", high,
             "] after --normalize ", c.data.normalize,
             c.data.normalize == "auto" ? " (standardize)" : "",
             "; use --normalize min_max or --data-kind real");
  }
  const DType dtype = m.dtype == "float64" ? DType::f64 : DType::f32;
  std::vector<int64_t> widths{features};
  widths.insert(widths.end(), m.hidden.begin(), m.hidden.end());

  models::ModelSpec spec;
  spec.seed = c.seed;
  if (is_sae(m.kind)) {
    spec.kind = models::ModelKind::sae;
    models::SaeConfig& s = spec.sae;
    s.kind = models::parse_sae_kind(m.kind);
    s.inputs = features;
    s.latents = m.latents > 0 ? m.latents : kSaeExpansion * features;
    s.k = m.k;
    s.auxk_alpha = m.auxk_alpha;
    s.auxk_k = m.auxk_k;
    s.dead_after = m.dead_after > 0 ? m.dead_after : kSaeDeadAfter;
    s.l1 = m.penalty_weight;
    s.l0 = m.penalty_weight;
    s.bandwidth = m.bandwidth;
    s.initial_threshold = m.initial_threshold;
    s.unit_norm_decoder = m.unit_norm_decoder == "auto" ? s.kind != models::SaeKind::relu_l1
                                                        : m.unit_norm_decoder == "on";
    s.dtype = dtype;
    const bool selecting = s.kind == models::SaeKind::topk || s.kind == models::SaeKind::batch_topk;
    AE_CHECK(!selecting || s.k <= s.latents, "--k ", s.k, " exceeds the ", s.latents,
             " latents (--latents ", m.latents, m.latents == 0 ? cat(": 16 × ", features, " inputs") : "",
             "): at most every latent can be active");
  } else if (m.kind == "vae") {
    spec.kind = models::ModelKind::vae;
    models::VaeConfig& v = spec.vae;
    v.widths = widths;
    v.latent = m.code;
    v.hidden = models::parse_activation(m.activation);
    v.data = kind;
    v.beta.kind = models::parse_beta_schedule(m.beta_schedule);
    v.beta.value = m.beta;
    v.beta.warmup_steps = m.beta_warmup;
    v.beta.period = m.beta_period;
    v.beta.ratio = m.beta_ratio;
    v.dtype = dtype;
  } else {
    spec.kind = models::ModelKind::autoencoder;
    models::AutoencoderConfig& a = spec.autoencoder;
    a.widths = widths;
    a.widths.push_back(m.code);
    a.hidden = models::parse_activation(m.activation);
    a.code = models::parse_activation(m.code_activation);
    a.data = kind;
    a.tied = m.tied;
    a.l2 = m.l2;
    a.l1 = m.l1;
    a.penalty = models::parse_code_penalty(m.penalty);
    a.penalty_weight = m.penalty_weight;
    a.sparsity_target = m.sparsity_target;
    a.noise.kind = models::parse_noise(m.noise);
    a.noise.level = m.noise_level;
    // Salt and pepper take the data's own extremes.
    a.noise.low = low;
    a.noise.high = high;
    a.dtype = dtype;
  }
  return spec;
}

models::TrainerConfig trainer_config(const RunConfig& config) {
  models::TrainerConfig t;
  t.epochs = config.train.epochs;
  t.batch_size = config.train.batch_size;
  t.optimizer = optimizer_config(config.train);
  t.lr_schedule = lr_schedule(config.train);
  t.clip_norm = config.train.clip_norm;
  t.patience = config.train.patience;
  t.restore_best = false;  // the best parameters are in best.safetensors
  t.shuffle_seed = config.seed;
  t.step_mode = models::parse_step_mode(config.train.step_mode);
  t.lr_warmup_steps = config.train.lr_warmup;
  return t;
}

double sae_learning_rate(int64_t latents, int64_t features) {
  AE_CHECK(latents > 0 && features > 0, "sparse autoencoder learning rate: ", latents,
           " latents and ", features, " inputs must be positive");
  return 4e-4 * std::sqrt(16384.0 / static_cast<double>(latents)) *
         std::sqrt(768.0 / static_cast<double>(features));
}

std::string resolve_sae(RunConfig& config, const models::Dataset& train, int64_t train_rows) {
  ModelSettings& m = config.model;
  if (!is_sae(m.kind)) return "";
  // 3-d and 4-d arrays are read as pictures, a sample per entry along dim 0: activations saved
  // as (batch, tokens, width) would become batch samples of tokens · width values. An array
  // file (not IDX or PNG pictures) of that shape is refused, with both ways to reshape it.
  std::error_code ec;
  if (train.image_h > 0 && std::filesystem::exists(config.data.path, ec)) {
    const std::string format = detect_format(config.data.path);
    const int64_t width = train.image_c > 1 ? train.image_c : train.image_w;
    if (format == "npy" || format == "npz" || format == "safetensors")
      fail(cat(config.data.path, ": samples of shape (", train.image_h, ", ", train.image_w,
               train.image_c > 1 ? cat(", ", train.image_c) : "", "), ", train.features(),
               " values each; a sparse autoencoder reads (rows, width) activations: save them "
               "as x.reshape(-1, ", width, "), or pictures as x.reshape(len(x), -1)"),
           ErrorKind::data);
  }
  const int64_t features = train.features();
  std::string note;
  if (m.latents == 0) {
    m.latents = kSaeExpansion * features;
    note += cat("latents ", m.latents, " = 16 × ", features, " inputs");
  }
  if (m.dead_after == 0 && train_rows < 0) {
    m.dead_after = kSaeDeadAfter;
  } else if (m.dead_after == 0) {
    m.dead_after = std::max<int64_t>(1, std::min(kSaeDeadAfter, train_rows));
    note += cat(note.empty() ? "" : ", ", "dead after ", m.dead_after, " samples (min(10,000,000, ",
                train_rows, " training rows))");
  }
  if (config.given.count("train.lr") == 0) {
    config.train.lr = sae_learning_rate(m.latents, features);
    config.given.insert("train.lr");
    note += cat(note.empty() ? "" : ", ", "lr ", config.train.lr, " = 4e-4 · √(2^14 / ", m.latents,
                ") · √(768 / ", features, ")");
  }
  // A warm-up takes at most a tenth of the run: 1000 steps of a run of 60 would leave its
  // learning rate near 0 throughout.
  if (config.given.count("train.lr_warmup") == 0 && train_rows >= 0) {
    const int64_t batch = std::max<int64_t>(1, config.train.batch_size);
    const int64_t steps = (std::max<int64_t>(train_rows, 1) + batch - 1) / batch * config.train.epochs;
    if (config.train.lr_warmup > steps / 10) {
      config.train.lr_warmup = steps / 10;
      note += cat(note.empty() ? "" : ", ", "lr warm-up ", config.train.lr_warmup,
                  " steps (a tenth of the run's ", steps, ")");
    }
    config.given.insert("train.lr_warmup");
  }
  return note;
}

void resolve_sae_normalization(RunConfig& config) {
  if (is_sae(config.model.kind) && config.data.normalize == "auto") {
    config.data.normalize = "mean_norm";
    config.data.normalize_chosen_by =
        "the sparse autoencoders' default: a mean norm of √d, as in Gao et al. 2024";
  }
}

Tensor decoder_bias_sample(const Tensor& train) {
  return slice(train, 0, std::min<int64_t>(train.size(0), kSaeBiasRows));
}

void resolve_init(RunConfig& config) {
  if (config.model.init.empty()) return;
  const models::Checkpoint c = read_sae_folder(config.model.init);
  const models::SaeConfig& s = c.spec.sae;
  const std::string from = cat("the SAE of --init ", config.model.init);
  auto given = [&](const char* key) { return config.given.count(key) > 0; };
  ModelSettings& m = config.model;
  const std::string kind = models::sae_kind_name(s.kind);
  if (!given("model.kind") || m.kind == "auto") m.kind = kind;
  AE_CHECK(m.kind == kind, "--model ", m.kind, " differs from ", from, ": ", kind);
  if (!given("model.latents") || m.latents == 0) m.latents = s.latents;
  AE_CHECK(m.latents == s.latents, "--latents ", m.latents, " differs from ", from, ": ", s.latents,
           " latents");
  const bool selecting = s.kind == models::SaeKind::topk || s.kind == models::SaeKind::batch_topk;
  if (selecting && !given("model.k")) m.k = s.k;
  if (!given("model.unit_norm_decoder")) m.unit_norm_decoder = s.unit_norm_decoder ? "on" : "off";
  if (config.data.normalize == "auto") {
    config.data.normalize = "none";
    config.data.normalize_chosen_by = "--init: its weights read the data as it is";
  }
  validate(config);  // the settings as they now are (--k within --latents, ...)
}

void init_sae(models::Model& model, const RunConfig& config, const Tensor& sample) {
  auto* sae = dynamic_cast<models::SparseAutoencoder*>(&model);
  if (sae != nullptr && !config.model.init.empty()) {
    AE_CHECK(config.data.normalize == "none", "--init ", config.model.init, ": its SAE reads the "
             "data as it is; --normalize ", config.data.normalize, " would change what it reads "
             "(use none, or auto)");
    models::Checkpoint c = read_sae_folder(config.model.init);
    AE_CHECK(c.spec.sae.inputs == sae->config().inputs, "--init ", config.model.init, ": its SAE reads ",
             c.spec.sae.inputs, " inputs, the data has ", sae->config().inputs, " features");
    c.rng_seed = model.generator().seed();  // the run's own noise stream, from its start
    c.rng_offset = model.generator().offset();
    models::restore_model(c, model);
    return;
  }
  if (sae == nullptr || config.model.decoder_bias_init == "zero" || !sample.defined() ||
      sample.size(0) == 0)
    return;
  NoGradGuard no_grad;
  sae->init_decoder_bias(sample.to(Device::cpu()).to(DType::f64),
                         config.model.decoder_bias_init == "median");
}

}  // namespace ae::run
