// Numeric CSV tables: one sample per line, features as float32, optionally one label column.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/io/array.h"
#include "models/io/file.h"

namespace ae::io {

enum class CsvHeader { Auto, Yes, No };

struct CsvOptions {
  char delimiter = ',';
  // Auto: the first row is a header when any of its fields is not a number.
  CsvHeader header = CsvHeader::Auto;
  // At most one of these: the label column by header name, or by 0-based index. It is removed
  // from the features and returned as labels.
  std::optional<std::string> label_name;
  std::optional<int64_t> label_index;
};

struct CsvTable {
  Array features;                    // (rows, feature columns)
  std::vector<float> labels;         // (rows), empty without a label column
  std::vector<std::string> columns;  // feature column names; "0", "1", ... without a header
  std::string label_column;          // the label column's name, empty without one
};

// Reads a CSV file (raw or gzip). Lines whose first non-blank character is '#' are comments;
// blank lines are skipped; fields may be quoted with "..." ("" is a literal quote) and may then
// contain the delimiter, but not a line break. Surrounding spaces of a field are ignored. Every
// value must be a finite number that fits in float32. Errors name the file, line and column:
// "x.csv:12: column 'x3': 'abc' is not a number".
CsvTable read_csv(const std::string& path, const CsvOptions& options = {},
                  uint64_t max_bytes = kMaxReadBytes);

// Parses CSV text already in memory; name is used in messages.
CsvTable parse_csv(const std::string& text, const std::string& name,
                   const CsvOptions& options = {});

}  // namespace ae::io
