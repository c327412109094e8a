// Numeric CSV tables: one sample per line, features as float32, optionally one label column.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/array.h"
#include "data/file.h"

namespace ae::io {

enum class CsvHeader { Auto, Yes, No };

struct CsvOptions {
  // The field separator; 0 (the default): a file named *.tsv[.gz] is tab-separated, any other is
  // sniffed from its first lines (see sniff_delimiter), ',' when nothing fits.
  char delimiter = 0;
  // The decimal mark, '.' or ','. A field such as "-5,79539" read with '.' is an error that names
  // the decimal comma; with ',', a '.' in a number is refused (it may be a thousands separator).
  char decimal = '.';
  // Auto: the first row is a header when any of its fields is not a number.
  CsvHeader header = CsvHeader::Auto;
  // At most one of these: the label column by header name, or by 0-based index. It is removed
  // from the features and returned as labels.
  std::optional<std::string> label_name;
  std::optional<int64_t> label_index;
  // Lines at the top of the file skipped before anything else is read (a title, or a line of
  // counts and class names as some bundled data sets have); line numbers in messages stay the
  // file's.
  int64_t skip_rows = 0;
};

struct CsvTable {
  Array features;                    // (rows, feature columns)
  std::vector<float> labels;         // (rows), empty without a label column
  std::vector<std::string> columns;  // feature column names; "0", "1", ... without a header
  std::string label_column;          // the label column's name, empty without one
  char delimiter = ',';              // the separator the table was read with
  // A one-line hint when a table without header and label column has a first or last column of
  // a few small integers, the way a class column looks ("column 6 (the last) holds only the
  // integers 0 to 3: if it is the class, pass its index as the label column"); empty otherwise.
  // Nothing is guessed: the column stays a feature.
  std::string label_hint;
};

// Reads a CSV file (raw or gzip). Lines end with "\n", "\r\n" or a lone "\r" (old Mac Excel).
// Lines whose first non-blank character is '#' are comments; blank lines are skipped; fields may be quoted with "..." ("" is a literal quote) and may then
// contain the delimiter, but not a line break. Surrounding spaces of a field are ignored. Every
// value must be a finite number that fits in float32. Errors name the file, line and column:
// "x.csv:12: column 'x3': 'abc' is not a number". A first line whose number of fields differs
// from the row below it is not that row's header (nor a row of the same table): the error says
// so and suggests skipping it, unless the extra fields come from a decimal comma
// ("-5,79539" split in two), which is named instead.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {},
                  uint64_t max_bytes = kMaxReadBytes);

// Parses CSV text already in memory; name is used in messages.
CsvTable parse_csv(const std::string& text, const std::string& name,
                   const CsvOptions& options = {});

// The separator of a CSV text, from its first 20 rows (after skip_rows lines, comments and blank
// lines): the first of ',', tab, ';', '|' and ' ' that splits every row into the same number of
// fields, more than one (a decimal mark of ',' is no candidate); else the first that does so for
// every row below the first (a title line above the table); else ','.
char sniff_delimiter(const std::string& text, int64_t skip_rows = 0, char decimal = '.');

}  // namespace ae::io
