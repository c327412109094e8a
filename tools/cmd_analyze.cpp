// ae eval, encode, score, pca and retrieve: numbers about a trained model on data.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "data/npy.h"
#include "analysis/pca.h"
#include "train/trainer.h"
#include "analysis/metrics.h"
#include "tools/commands.h"
#include "run/pictures.h"
#include "run/run_folder.h"
#include "run/session.h"

namespace ae::cli {
namespace {
using models::Confusion;
using models::confusion_at;
using models::quantile;
using models::roc_auc;

std::string fixed(double v, int digits = 4) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// path with its extension `from` replaced by `to` (added when it has another one).
std::string with_extension(const std::string& path, const std::string& from, const std::string& to) {
  const bool has = path.size() > from.size() && path.compare(path.size() - from.size(), from.size(), from) == 0;
  return (has ? path.substr(0, path.size() - from.size()) : path) + to;
}

// The output path: --out when given, else `file` in the run folder.
std::string output_path(const RunArgs& a, const LoadedRun& run, const std::string& file) {
  return a.out.empty() ? join_path(run.folder, file) : a.out;
}

// The k nearest database rows of each query in one space: by squared Euclidean distance, or,
// hashing, by Hamming distance between the bits above `thresholds` (one, or one per column).
models::Neighbours search(const Tensor& queries, const Tensor& database, int64_t k, bool hash,
                          const std::vector<double>& thresholds, bool leave_one_out) {
  if (!hash) return models::nearest_neighbours(queries, database, k, leave_one_out);
  return models::nearest_by_hamming(models::binarize(queries, thresholds),
                                    models::binarize(database, thresholds), k, leave_one_out);
}

}  // namespace

int run_eval(RunArgs& a) {
  LoadedRun run = load_run(a);
  std::string what;
  const models::Dataset data = analysis_data(a, run, what);
  const models::LossValues loss = models::evaluate(*run.model, data.x);
  const std::vector<double> errors = per_sample_error(*run.model, data.x);
  const models::ModelSpec& spec = run.checkpoint.spec;
  const std::vector<std::string> terms = loss_terms(spec);

  std::printf("%s (after epoch %lld) on %s\n", run.checkpoint.path.c_str(),
              static_cast<long long>(run.checkpoint.state.epoch), what.c_str());
  std::printf("loss per sample:");
  for (const std::string& t : terms) std::printf("  %s %s", t.c_str(), fixed(term(loss, t)).c_str());
  std::printf("\nsquared reconstruction error per sample: %s\n", fixed(mean_of(errors)).c_str());
  if (!a.out.empty()) {
    json out = {{"checkpoint", run.checkpoint.path},
                {"data", what},
                {"samples", data.size()},
                {"squared_error", mean_of(errors)}};
    for (const std::string& t : terms) out["loss"][t] = term(loss, t);
    write_text(a.out, out.dump(2) + "\n");
    std::printf("wrote %s\n", a.out.c_str());
  }
  return 0;
}

int run_encode(RunArgs& a) {
  LoadedRun run = load_run(a);
  std::string what;
  const models::Dataset data = analysis_data(a, run, what);
  const Tensor codes = encode(*run.model, run.checkpoint.spec, data.x).to(Device::cpu()).to(DType::f32);
  const int64_t n = codes.size(0), k = codes.size(1);
  const std::vector<float> v = codes.to_floats();

  // --out names the .npy file; the CSV goes beside it.
  std::string npy = output_path(a, run, "codes.npy");
  std::string stem = npy.size() > 4 && npy.substr(npy.size() - 4) == ".npy" ? npy.substr(0, npy.size() - 4) : npy;
  if (stem == npy) npy += ".npy";
  const std::string csv_path = stem + ".csv";
  io::write_npy(npy, {n, k}, v.data());
  if (run.checkpoint.spec.kind == models::ModelKind::sae) {
    // Many latents: the .npy alone, no CSV of as many columns nor a PCA picture of them.
    std::printf("encoded %s: the sparse autoencoder's latents (%lld, %lld), dense -> %s\n",
                what.c_str(), static_cast<long long>(n), static_cast<long long>(k), npy.c_str());
    return 0;
  }
  std::string csv;
  for (int64_t j = 0; j < k; ++j) csv += cat(j ? "," : "", "z", j + 1);
  csv += data.has_labels() ? ",label\n" : "\n";
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      char text[32];
      std::snprintf(text, sizeof text, "%s%.9g", j ? "," : "", v[i * k + j]);
      csv += text;
    }
    csv += data.has_labels() ? cat(",", data.labels[i], "\n") : "\n";
  }
  write_text(csv_path, csv);
  // The codes just written, drawn: coloured by label, the first two principal components when
  // wider than 2.
  const std::string png = stem + ".png";
  const std::string note = try_picture(png, [&] {
    write_latent_png(png, codes, data.labels, cat(run.config.model.kind, " code of ", data.name));
  });
  std::printf("encoded %s: codes (%lld, %lld) -> %s, %s%s\n", what.c_str(),
              static_cast<long long>(n), static_cast<long long>(k), npy.c_str(), csv_path.c_str(),
              note.empty() ? (", " + png).c_str() : "");
  if (!note.empty()) std::printf("%s\n", note.c_str());
  return 0;
}

int run_score(ScoreArgs& s) {
  RunArgs& a = s.run;
  AE_CHECK(s.contamination > 0 && s.contamination < 1, "--contamination must lie in (0, 1), got ",
           s.contamination);
  LoadedRun run = load_run(a);
  refuse_sae(run, "score", "fit a Mahalanobis distance over latents × latents");
  std::string what;
  std::vector<int64_t> rows;
  // Each method's threshold comes from the training data: the score above which the top
  // `contamination` fraction of training samples lies.
  const models::Dataset train = training_data(run, "score");
  const models::Dataset data = analysis_data(a, run, what, &rows);

  // The anomalies: --anomaly-labels, else the classes the run left out of training.
  const std::vector<int64_t>& excluded = run.config.data.exclude_labels.values;
  const bool by_default = s.anomaly_labels.empty() && !excluded.empty() && data.has_labels();
  const std::vector<int64_t> anomaly_labels = by_default ? excluded : s.anomaly_labels;
  std::vector<bool> positive;
  int64_t n_pos = 0;
  if (!anomaly_labels.empty()) {
    AE_CHECK(data.has_labels(), "--anomaly-labels needs labelled data; ", what, " has no labels");
    const std::set<int64_t> anomalies(anomaly_labels.begin(), anomaly_labels.end());
    for (int64_t l : data.labels) positive.push_back(anomalies.count(l) > 0);
    n_pos = std::count(positive.begin(), positive.end(), true);
    const bool both = n_pos > 0 && n_pos < static_cast<int64_t>(positive.size());
    if (!both && by_default) {
      positive.clear();  // nothing to measure against, and nothing was asked
    } else {
      std::string listed;
      for (int64_t l : std::set<int64_t>(data.labels.begin(), data.labels.end()))
        listed += cat(listed.empty() ? "" : ", ", l);
      AE_CHECK(both, "--anomaly-labels: ", n_pos == 0 ? "none" : "all", " of the ",
               positive.size(), " samples of ", data.name, " carry those labels (it has labels ",
               listed, "); ROC AUC needs both anomalies and normal samples");
    }
  }

  int64_t pca_k = 0;
  const std::vector<ScoredMethod> methods =
      score_with_baseline(*run.model, run.checkpoint.spec, run.config.model.kind, train.x, data.x,
                          s.contamination, run.scorer, pca_k);
  std::vector<int64_t> flagged;
  for (const ScoredMethod& m : methods)
    flagged.push_back(std::count_if(m.scores.begin(), m.scores.end(),
                                    [&](double v) { return v > m.threshold; }));

  std::printf("scored %s with %s\n", what.c_str(), run.checkpoint.path.c_str());
  std::printf("threshold: the %s quantile of each method's scores on the %lld training samples "
              "(contamination %g)\n",
              fixed(1 - s.contamination, 3).c_str(), static_cast<long long>(train.size()),
              s.contamination);
  if (!positive.empty()) {
    std::string labels;
    for (int64_t l : anomaly_labels) labels += cat(labels.empty() ? "" : ",", l);
    std::printf("anomalies: labels %s, %lld of %zu samples%s\n", labels.c_str(),
                static_cast<long long>(n_pos), positive.size(),
                by_default ? " (the labels the run was trained without)" : "");
  }
  std::printf("%-22s %10s %8s", "method", "threshold", "flagged");
  if (!positive.empty()) std::printf(" %8s %9s %9s %7s", "ROC AUC", "avg prec", "precision", "recall");
  std::printf("\n");
  for (size_t k = 0; k < methods.size(); ++k) {
    const ScoredMethod& m = methods[k];
    std::printf("%-22s %10s %8lld", m.name.c_str(), fixed(m.threshold).c_str(),
                static_cast<long long>(flagged[k]));
    if (!positive.empty()) {
      const Confusion c = confusion_at(m.scores, positive, m.threshold);
      std::printf(" %8s %9s %9s %7s", fixed(roc_auc(m.scores, positive)).c_str(),
                  fixed(models::average_precision(m.scores, positive)).c_str(),
                  fixed(c.precision()).c_str(), fixed(c.recall()).c_str());
    }
    std::printf("\n");
  }
  if (pca_k == train.features())
    std::printf("(PCA with all %lld features reconstructs every sample exactly: no baseline; the "
                "model's code is as wide as its input)\n", static_cast<long long>(pca_k));

  // Everything is computed and checked: write the CSV.
  std::string csv = data.has_labels() ? "index,score,anomaly,pca_score,label\n"
                                      : "index,score,anomaly,pca_score\n";
  const std::vector<double>& scores = methods[0].scores;
  for (size_t i = 0; i < scores.size(); ++i) {
    char text[96];
    std::snprintf(text, sizeof text, "%lld,%.9g,%d,%.9g", static_cast<long long>(rows[i]),
                  scores[i], scores[i] > methods[0].threshold ? 1 : 0, methods[1].scores[i]);
    csv += text;
    csv += data.has_labels() ? cat(",", data.labels[i], "\n") : "\n";
  }
  const std::string out = output_path(a, run, "scores.csv");
  write_text(out, csv);
  // The picture beside it: scores.png, or the CSV's name with .png.
  const std::string png = a.out.empty() ? join_path(run.folder, "scores.png")
                                        : with_extension(a.out, ".csv", ".png");
  const std::string note = try_picture(png, [&] {
    write_scores_png(png, methods, positive, cat("anomaly scores, ", data.name));
  });
  if (!note.empty()) std::printf("%s\n", note.c_str());
  std::printf("wrote %s%s\n", out.c_str(), note.empty() ? (", " + png).c_str() : "");
  return 0;
}

int run_pca(RunArgs& a) {
  const int64_t count = count_or(a, 12);
  LoadedRun run = load_run(a);
  refuse_sae(run, "pca", "compare PCA of as many components as latents");
  std::string what;
  const models::Dataset train = training_data(run, "pca");
  const models::Dataset data = analysis_data(a, run, what);
  const models::ModelSpec& spec = run.checkpoint.spec;
  const int64_t k = std::min({spec.code_width(), train.features(), train.size()});
  const models::Pca pca = models::Pca::fit(train.x, k);
  const double pca_error = pca.reconstruction_error(data.x);
  const double model_error = mean_of(per_sample_error(*run.model, data.x));
  double explained = 0;
  for (double r : pca.explained_variance_ratio()) explained += r;

  std::printf("squared reconstruction error per sample on %s (model space):\n", what.c_str());
  std::printf("  PCA, %lld components (fitted on %lld training samples, %.1f%% of their variance): %s\n",
              static_cast<long long>(k), static_cast<long long>(train.size()), 100 * explained,
              fixed(pca_error).c_str());
  std::printf("  %s, code %lld (%s): %s\n", run.config.model.kind.c_str(),
              static_cast<long long>(spec.code_width()), run.checkpoint.path.c_str(),
              fixed(model_error).c_str());
  std::printf("  ratio model / PCA: %s\n", fixed(model_error / pca_error, 3).c_str());

  // Pictures: originals, PCA's reconstructions and the model's, side by side. A table: the
  // error per feature of both.
  const int64_t n = std::min<int64_t>(data.size(), count);
  NoGradGuard no_grad;
  const std::string out = output_path(a, run, "pca.png");
  std::string note;
  if (run.picture.is_image()) {
    const Tensor shown = slice(data.x, 0, n);
    const Tensor by_pca = pca.reconstruct(shown.to(DType::f64)).to(DType::f32);
    const Tensor by_model = reconstruct_all(*run.model, shown);
    double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
    std::tie(lo, hi) = picture_range(spec, run.normalizer);
    note = try_picture(out, [&] {
      write_rows_png(out,
                     {{"original", to_data_space(run, shown)},
                      {cat("PCA k=", k), to_data_space(run, by_pca)},
                      {run.config.model.kind, to_data_space(run, by_model)}},
                     run.picture, n, lo, hi);
    });
  } else {
    const Tensor by_pca = pca.reconstruct(data.x.to(Device::cpu()).to(DType::f64));
    const Tensor by_model = reconstruct_all(*run.model, data.x);
    note = try_picture(out, [&] {
      write_feature_error_png(out,
                              {{cat(run.config.model.kind, " (code ", spec.code_width(), ")"),
                                feature_error(data.x, by_model)},
                               {cat("PCA (", k, ")"), feature_error(data.x, by_pca)}},
                              cat("error per feature on ", data.name));
    });
  }
  std::printf("%s\n", note.empty() ? cat("wrote ", out).c_str() : note.c_str());
  return 0;
}

int run_retrieve(RetrieveArgs& r) {
  RunArgs& a = r.run;
  AE_CHECK(r.k >= 1, "--k must be at least 1, got ", r.k);
  count_or(a, 1);  // checked before anything is loaded
  LoadedRun run = load_run(a);
  refuse_sae(run, "retrieve", "hold dense codes of rows × latents");
  std::string what;
  const models::Dataset database = training_data(run, "retrieve");
  const models::Dataset asked = analysis_data(a, run, what);
  // --split train (or val in a run without validation) asks with the database itself: a query
  // is then left out of its own neighbours.
  const bool leave_one_out = !a.data_flags.was_given("--data") && asked.name == database.name &&
                             asked.size() == database.size();
  const int64_t candidates = database.size() - (leave_one_out ? 1 : 0);
  AE_CHECK(r.k <= candidates, "--k ", r.k, " is more than the ", candidates,
           " samples of the database (the training split, ", database.name,
           leave_one_out ? ", less the query itself" : "", ")");
  constexpr int64_t kDefaultQueries = 1000;  // the raw-input baseline grows with queries x database
  const int64_t nq = std::min(asked.size(), count_or(a, kDefaultQueries));
  const models::Dataset queries = models::subset(asked, nq);
  const models::ModelSpec& spec = run.checkpoint.spec;
  const int64_t k = r.k;

  // The codes: a sigmoid code is cut at the middle of its range, any other (a VAE's μ included)
  // at 0.
  const bool sigmoid_code = spec.kind == models::ModelKind::autoencoder &&
                            spec.autoencoder.code == models::Activation::sigmoid;
  const double code_threshold = sigmoid_code ? 0.5 : 0.0;
  const models::Neighbours found =
      search(encode(*run.model, spec, queries.x), encode(*run.model, spec, database.x), k, r.hash,
             {code_threshold}, leave_one_out);

  std::printf("retrieved %lld neighbours for %lld queries of %s among the %lld training samples "
              "of %s%s, by %s\n",
              static_cast<long long>(k), static_cast<long long>(nq), what.c_str(),
              static_cast<long long>(database.size()), database.name.c_str(),
              leave_one_out ? " (a query not its own neighbour)" : "",
              r.hash ? "Hamming distance between bits" : "squared Euclidean distance");
  const bool labelled = queries.has_labels() && database.has_labels();
  if (labelled) {
    // Baselines searched the same way: the inputs as the model sees them (normalised), and PCA
    // with the code's size fitted on the database. Hashing cuts both at the database's mean.
    const int64_t pca_k = std::min({spec.code_width(), database.features(), database.size()});
    const models::Pca pca = models::Pca::fit(database.x, pca_k);
    const Tensor query_x = queries.x.to(run.device), database_x = database.x.to(run.device);
    const models::Neighbours by_input =
        search(query_x, database_x, k, r.hash, pca.mean.to_vector(), leave_one_out);
    const models::Neighbours by_pca = search(pca.transform(query_x), pca.transform(database_x), k,
                                             r.hash, {0.0}, leave_one_out);
    const std::string model = cat(run.config.model.kind, spec.kind == models::ModelKind::vae
                                                             ? " code (mean)" : " code");
    std::printf("%-16s %14s  precision@%lld\n", "space", r.hash ? "bits" : "dimensions",
                static_cast<long long>(k));
    auto line = [&](const std::string& space, int64_t dims, double precision) {
      std::printf("%-16s %14lld  %s\n", space.c_str(), static_cast<long long>(dims),
                  fixed(precision).c_str());
    };
    line(model, spec.code_width(), models::precision_at_k(found, queries.labels, database.labels));
    line("input", database.features(),
         models::precision_at_k(by_input, queries.labels, database.labels));
    line("PCA", pca_k, models::precision_at_k(by_pca, queries.labels, database.labels));
    std::printf("%-16s %14s  %s\n", "chance", "",
                fixed(models::chance_precision(queries.labels, database.labels)).c_str());
    if (r.hash)
      std::printf("bits: the code above %g%s; input and PCA above the database's mean\n",
                  code_threshold, sigmoid_code ? " (sigmoid code)" : "");
  } else {
    const std::string unlabelled = queries.has_labels() ? database.name : what;
    std::printf("no precision@%lld: %s has no labels\n", static_cast<long long>(k),
                unlabelled.c_str());
  }

  // Everything is computed: write the CSV, then the picture (each file atomically).
  const std::string csv_path = output_path(a, run, r.hash ? "neighbours-hash.csv" : "neighbours.csv");
  std::string csv = labelled ? "query,rank,database_index,distance,query_label,neighbour_label\n"
                             : "query,rank,database_index,distance\n";
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t rank = 0; rank < k; ++rank) {
      const int64_t index = found.index[i * k + rank];
      char text[96];
      std::snprintf(text, sizeof text, "%lld,%lld,%lld,%.9g", static_cast<long long>(i),
                    static_cast<long long>(rank + 1), static_cast<long long>(index),
                    found.distance[i * k + rank]);
      csv += text;
      csv += labelled ? cat(",", queries.labels[i], ",", database.labels[index], "\n") : "\n";
    }
  write_text(csv_path, csv);
  std::string wrote = csv_path;

  if (run.picture.is_image()) {
    // Each row a query and its neighbours, nearest first; the first 10 queries.
    const std::string png =
        a.out.empty() ? join_path(run.folder, r.hash ? "retrieval-hash.png" : "retrieval.png")
                      : with_extension(a.out, ".csv", ".png");
    std::vector<PictureRow> rows;
    for (int64_t i = 0; i < std::min<int64_t>(nq, 10); ++i) {
      const std::vector<int64_t> nearest(found.index.begin() + i * k,
                                         found.index.begin() + (i + 1) * k);
      const Tensor row =
          concat({slice(queries.x, i, i + 1), models::select(database, nearest).x}, 0);
      const std::string caption =
          labelled ? cat("query ", i, " (", queries.labels[i], ")") : cat("query ", i);
      rows.push_back({caption, to_data_space(run, row)});
    }
    double lo, hi;  // not a structured binding: clang 14 cannot capture one in a lambda
    std::tie(lo, hi) = picture_range(spec, run.normalizer);
    const std::string note =
        try_picture(png, [&] { write_rows_png(png, rows, run.picture, k + 1, lo, hi); });
    if (note.empty())
      wrote += ", " + png;
    else
      std::printf("%s\n", note.c_str());
  }
  std::printf("wrote %s\n", wrote.c_str());
  return 0;
}

}  // namespace ae::cli
