// Retrieval by code: the nearest-neighbour search and precision@k of analysis/metrics.h on small
// hand-made examples, then `ae retrieve` end to end on the synthetic shapes (and on MNIST when
// it is there).
#include <cmath>
#include <map>
#include <regex>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tensor.h"
#include "analysis/metrics.h"

namespace ae::models {
namespace {

Tensor matrix(const std::vector<double>& values, int64_t cols, DType dtype = DType::f64) {
  return Tensor::from_host(values, {static_cast<int64_t>(values.size()) / cols, cols},
                           Device::cpu())
      .to(dtype);
}

// Five points in the plane; row 4 repeats row 1, so distances tie.
const std::vector<double> kDatabase = {0, 0, 1, 0, 0, 1, 3, 3, 1, 0};
const std::vector<int64_t> kDatabaseLabels = {0, 0, 1, 1, 0};

TEST(RetrievalMetrics, NearestBySquaredEuclideanWithTies) {
  for (DType dtype : {DType::f64, DType::f32}) {
    const Neighbours n =
        nearest_neighbours(matrix({0, 0, 1, 1}, 2, dtype), matrix(kDatabase, 2, dtype), 3);
    ASSERT_EQ(n.queries(), 2);
    ASSERT_EQ(n.k, 3);
    // (0, 0): row 0 at 0, then rows 1, 2 and 4 all at 1: the lower indices win.
    EXPECT_EQ(n.index, (std::vector<int64_t>{0, 1, 2, 1, 2, 4}));
    // (1, 1): rows 1, 2 and 4 at 1, row 0 at 2.
    EXPECT_EQ(n.distance, (std::vector<double>{0, 1, 1, 1, 1, 1}));
    // Labels 0, 0, 1 for query label 0 (2 of 3); 0, 1, 0 for query label 1 (1 of 3).
    EXPECT_DOUBLE_EQ(precision_at_k(n, {0, 1}, kDatabaseLabels), 0.5);
  }
  EXPECT_DOUBLE_EQ(chance_precision({0, 1}, kDatabaseLabels), (3.0 / 5 + 2.0 / 5) / 2);
}

TEST(RetrievalMetrics, TiesAcrossDatabaseBlocksGoToTheLowerIndex) {
  // 3000 equal rows (the search goes through the database in blocks) and one nearer row last.
  std::vector<double> rows(3001 * 2, 1.0);
  rows[3000 * 2] = rows[3000 * 2 + 1] = 0.5;
  const Neighbours n = nearest_neighbours(matrix({0, 0}, 2), matrix(rows, 2), 4);
  EXPECT_EQ(n.index, (std::vector<int64_t>{3000, 0, 1, 2}));
  EXPECT_EQ(n.distance, (std::vector<double>{0.5, 2, 2, 2}));
}

TEST(RetrievalMetrics, LeaveOneOut) {
  const Tensor x = matrix(kDatabase, 2);
  const Neighbours n = nearest_neighbours(x, x, 2, true);
  // Rows 1 and 4 are the same point: each is the other's nearest, at distance 0.
  EXPECT_EQ(n.index, (std::vector<int64_t>{1, 2, 4, 0, 0, 1, 1, 2, 1, 0}));
  EXPECT_EQ(n.distance[2], 0);
  EXPECT_EQ(n.distance[8], 0);
}

TEST(RetrievalMetrics, HammingOnBits) {
  // Bits above 0.5: rows 101, 000, 111, 101; the query 101.
  const BitCodes db =
      binarize(matrix({0.9, 0.1, 0.8, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.6, 0.4, 0.7}, 3), {0.5});
  const BitCodes q = binarize(matrix({0.7, 0.3, 0.9}, 3), {0.5});
  EXPECT_EQ(db.words, (std::vector<uint64_t>{0b101, 0b000, 0b111, 0b101}));
  const Neighbours n = nearest_by_hamming(q, db, 3);
  EXPECT_EQ(n.index, (std::vector<int64_t>{0, 3, 2}));  // the tie at 0: row 0 before row 3
  EXPECT_EQ(n.distance, (std::vector<double>{0, 0, 1}));
  EXPECT_DOUBLE_EQ(precision_at_k(n, {1}, {1, 0, 0, 1}), 2.0 / 3);

  // Codes wider than one word, and a threshold per column.
  std::vector<double> wide(2 * 70, 0.0);
  for (int j = 0; j < 70; ++j) wide[70 + j] = 1;
  std::vector<double> thresholds(70, 0.5);
  thresholds[69] = 2;  // column 69 never set
  const BitCodes w = binarize(matrix(wide, 70), thresholds);
  EXPECT_EQ(w.words_per_row(), 2);
  const Neighbours far = nearest_by_hamming(w, w, 2);
  EXPECT_EQ(far.distance, (std::vector<double>{0, 69, 0, 69}));
}

TEST(RetrievalMetrics, BadArguments) {
  const Tensor db = matrix(kDatabase, 2), q = matrix({0, 0}, 2);
  EXPECT_THROW(nearest_neighbours(q, db, 0), Error);
  EXPECT_THROW(nearest_neighbours(q, db, 6), Error);
  EXPECT_THROW(nearest_neighbours(db, db, 5, true), Error);  // 4 others per query
  EXPECT_THROW(nearest_neighbours(matrix({0, 0, 0}, 3), db, 1), Error);
  EXPECT_THROW(nearest_neighbours(q.to(DType::f32), db, 1), Error);
  EXPECT_THROW(nearest_neighbours(matrix({NAN, 0}, 2), db, 1), Error);
  EXPECT_THROW(binarize(db, {0.5, 0.5, 0.5}), Error);
  const Neighbours n = nearest_neighbours(q, db, 2);
  EXPECT_THROW(precision_at_k(n, {0, 1}, kDatabaseLabels), Error);
  EXPECT_THROW(precision_at_k(n, {0}, {0}), Error);  // neighbour 1 has no label
}

}  // namespace
}  // namespace ae::models

#ifdef AE_CLI_PATH
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

const std::string kMnist = AE_MNIST_DIR;

// The precision@k in the summary table's row for `space` ("ae code  8  0.9988"), NaN when the
// row is missing.
double precision_of(const std::string& out, const std::string& space) {
  std::smatch m;
  const std::regex row("(^|\n)" + space + " +[0-9]+ +([0-9.]+)\n");
  return std::regex_search(out, m, row) ? std::stod(m[2]) : NAN;
}

double chance_of(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("\nchance +([0-9.]+)\n")) ? std::stod(m[1]) : NAN;
}

// The rows of a CSV file without its header, split at commas.
std::vector<std::vector<std::string>> csv_rows(const fs::path& p, std::string* header = nullptr) {
  std::stringstream in(read_text(p));
  std::string line;
  std::getline(in, line);
  if (header) *header = line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    rows.emplace_back();
    std::stringstream fields(line);
    std::string f;
    while (std::getline(fields, f, ',')) rows.back().push_back(f);
  }
  return rows;
}

// The output without its last line ("wrote <files>"), which names the files.
std::string summary(const std::string& out) {
  return out.substr(0, out.rfind("wrote "));
}

using CliRetrieve = CliTest;

TEST_F(CliRetrieve, ShapesCodesHashingAndErrors) {
  ok("train --model ae --code 8 --epochs 3 --out ae -q");

  // Bad values fail first, on one line, and write nothing.
  fails("retrieve ae --k 0", {"--k", "0"});
  fails("retrieve ae -k -2", {"--k", "-2"});
  fails("retrieve ae --k 3601", {"--k 3601", "3600", "shapes[train]"});
  fails("retrieve ae --split train --k 3600", {"--k 3600", "3599"});
  fails("retrieve ae --k ten", {"--k"});
  fails("retrieve ae --count -1", {"--count", "-1"});
  fails("retrieve ae --split test", {"--split", "test"});
  EXPECT_FALSE(fs::exists(path("ae/neighbours.csv")));
  EXPECT_FALSE(fs::exists(path("ae/retrieval.png")));

  // 400 validation queries among 3600 training samples; 4 classes, chance about 0.25. Over
  // seeds 1-5 the codes scored 1.000 and their bits 0.984-0.999 (3 epochs).
  Result r = ok("retrieve ae");
  const double chance = chance_of(r.out);
  EXPECT_NEAR(chance, 0.25, 0.02) << r.out;
  EXPECT_GT(precision_of(r.out, "ae code"), 0.9) << r.out;
  EXPECT_GT(precision_of(r.out, "input"), 0.9) << r.out;
  EXPECT_GT(precision_of(r.out, "PCA"), 0.5) << r.out;
  EXPECT_NE(r.out.find("400 queries"), std::string::npos) << r.out;

  std::string header;
  const auto rows = csv_rows(path("ae/neighbours.csv"), &header);
  EXPECT_EQ(header, "query,rank,database_index,distance,query_label,neighbour_label");
  ASSERT_EQ(rows.size(), 400u * 10);
  std::map<std::string, std::string> label_of;  // a database row always has the same label
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 6u);
    EXPECT_EQ(std::stoll(rows[i][0]), static_cast<long long>(i / 10));
    EXPECT_EQ(std::stoll(rows[i][1]), static_cast<long long>(i % 10 + 1));
    const long long index = std::stoll(rows[i][2]);
    EXPECT_TRUE(index >= 0 && index < 3600) << index;
    EXPECT_GE(std::stod(rows[i][3]), 0);
    if (i % 10) EXPECT_GE(std::stod(rows[i][3]), std::stod(rows[i - 1][3])) << "nearest first";
    auto [at, added] = label_of.emplace(rows[i][2], rows[i][5]);
    EXPECT_EQ(at->second, rows[i][5]);
  }
  if (AE_HAVE_PNG) {
    // 10 rows of a query and its 10 neighbours: 8-pixel pictures, padded, drawn 6 times as large.
    const auto [w, h] = png_size(path("ae/retrieval.png"));
    EXPECT_EQ(h, 10u * (8 + 2) * 6);
    EXPECT_GT(w, 11u * 8 * 6);
  }

  // The same again, and the same with hashing: identical results.
  r = ok("retrieve ae -o again.csv");
  EXPECT_EQ(read_text(path("again.csv")), read_text(path("ae/neighbours.csv")));
  const Result hashed = ok("retrieve ae --hash -k 5 -o hash1.csv");
  EXPECT_GT(precision_of(hashed.out, "ae code"), 0.9) << hashed.out;
  EXPECT_NE(hashed.out.find("bits: the code above 0.5 (sigmoid code)"), std::string::npos);
  EXPECT_GT(precision_of(hashed.out, "input"), chance) << hashed.out;
  const Result again = ok("retrieve ae --hash -k 5 -o hash2.csv");
  EXPECT_EQ(summary(again.out), summary(hashed.out));
  EXPECT_EQ(read_text(path("hash1.csv")), read_text(path("hash2.csv")));
  const auto hash_rows = csv_rows(path("hash1.csv"));
  ASSERT_EQ(hash_rows.size(), 400u * 5);
  for (const auto& row : hash_rows) {
    const double d = std::stod(row[3]);
    EXPECT_TRUE(d == std::floor(d) && d <= 8) << "a Hamming distance of 8 bits: " << d;
  }
  if (AE_HAVE_PNG) EXPECT_GT(png_size(path("hash1.png")).first, 0u);

  // Queries from the training split itself are never their own neighbours.
  r = ok("retrieve ae --split train -n 30 -k 3 -o train.csv");
  EXPECT_NE(r.out.find("30 queries"), std::string::npos) << r.out;
  for (const auto& row : csv_rows(path("train.csv"))) EXPECT_NE(row[0], row[2]);
}

TEST_F(CliRetrieve, UnlabelledTable) {
  std::string csv = "a,b,c\n";
  for (int i = 0; i < 60; ++i)
    csv += std::to_string(i % 7) + "," + std::to_string(i % 5) + "," + std::to_string(i % 3) + "\n";
  write_text(path("t.csv"), csv);
  ok("train --data t.csv --model ae --code 2 --hidden 4 --epochs 1 --out t -q");
  const Result r = ok("retrieve t -k 3");
  EXPECT_NE(r.out.find("no precision@3: t.csv[validation] (6 samples) has no labels"),
            std::string::npos)
      << r.out;
  std::string header;
  EXPECT_EQ(csv_rows(path("t/neighbours.csv"), &header).size(), 6u * 3);
  EXPECT_EQ(header, "query,rank,database_index,distance");
  EXPECT_FALSE(fs::exists(path("t/retrieval.png"))) << "not pictures";
  fails("retrieve t -k 55", {"--k 55", "54"});
}

TEST_F(CliRetrieve, Mnist) {
  if (!fs::exists(kMnist + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no MNIST at " << kMnist;
  // A linear 16-wide code, 5 epochs on 1800 digits: over seeds 1-3 its codes scored 0.77-0.79
  // and their sign bits 0.50-0.55 (chance 0.10).
  ok("train --model ae --data '" + kMnist + "' --limit 2000 --hidden 128 --code 16 "
     "--code-activation identity --epochs 5 --out mnist -q");
  Result r = ok("retrieve mnist");
  EXPECT_NEAR(chance_of(r.out), 0.1, 0.02) << r.out;
  EXPECT_GT(precision_of(r.out, "ae code"), 0.6) << r.out;
  EXPECT_GT(precision_of(r.out, "input"), 0.6) << r.out;
  EXPECT_GT(precision_of(r.out, "PCA"), 0.6) << r.out;
  r = ok("retrieve mnist --hash -o hash.csv");
  EXPECT_GT(precision_of(r.out, "ae code"), 0.3) << r.out;
  EXPECT_NE(r.out.find("bits: the code above 0;"), std::string::npos) << r.out;
  if (AE_HAVE_PNG) EXPECT_EQ(png_size(path("hash.png")).second, 10u * (28 + 2) * 2);
}

}  // namespace
}  // namespace ae::testing_cli
#endif  // AE_CLI_PATH
