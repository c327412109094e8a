#include "data/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

#include "core/error.h"

namespace ae::io {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Splits one line into fields. Quoted fields keep their inner spaces and delimiters.
std::vector<std::string> split_fields(std::string_view line, char delim, const std::string& where) {
  std::vector<std::string> fields;
  size_t i = 0;
  for (;;) {
    while (i < line.size() && is_blank(line[i]) && line[i] != delim) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += line[i++];
      }
      AE_CHECK(closed, where, ": unterminated quoted field (quoted fields cannot span lines)");
      while (i < line.size() && is_blank(line[i]) && line[i] != delim) ++i;
      AE_CHECK(i == line.size() || line[i] == delim, where, ": unexpected '", line[i],
               "' after a closing quote");
    } else {
      size_t end = line.find(delim, i);
      if (end == std::string_view::npos) end = line.size();
      field = std::string(trim(line.substr(i, end - i)));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the delimiter; a trailing one yields a last empty field
    if (i == line.size()) {
      fields.emplace_back();
      break;
    }
  }
  return fields;
}

enum class Parse { Ok, NotNumber, NotFinite, OutOfRange };

// Parses a whole field as a float32 value: decimal or exponent form, optional sign.
Parse parse_float(std::string_view s, float& out) {
  std::string_view body = s;
  if (!body.empty() && body.front() == '+') {  // from_chars rejects a leading '+'
    body.remove_prefix(1);
    if (!body.empty() && (body.front() == '+' || body.front() == '-')) return Parse::NotNumber;
  }
  if (body.empty()) return Parse::NotNumber;
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (end != body.data() + body.size()) return Parse::NotNumber;
  if (ec == std::errc::result_out_of_range) return Parse::OutOfRange;
  if (ec != std::errc()) return Parse::NotNumber;
  if (!std::isfinite(v)) return Parse::NotFinite;
  if (std::fabs(v) > std::numeric_limits<float>::max()) return Parse::OutOfRange;
  out = static_cast<float>(v);
  return Parse::Ok;
}

struct Row {
  int64_t line = 0;
  std::vector<std::string> fields;
};

// The rows of a CSV text one at a time, skipping blank and comment lines and a UTF-8 byte order
// mark, with 1-based line numbers for messages. Only the current row is held as strings, so a
// table costs its float values, not a string per field.
class RowReader {
 public:
  RowReader(const std::string& text, const std::string& name, char delimiter, int64_t skip_lines)
      : text_(text), name_(name), delimiter_(delimiter) {
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
    for (; line_no_ < skip_lines && pos_ < text_.size(); ++line_no_) {
      const size_t end = text_.find('\n', pos_);
      pos_ = end == std::string::npos ? text_.size() : end + 1;
    }
  }

  // Splits the next row into row; false at the end of the text.
  bool next(Row& row) {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string::npos) end = text_.size();
      const std::string_view line(text_.data() + pos_, end - pos_);
      pos_ = end + 1;
      ++line_no_;
      const std::string_view content = trim(line);
      if (content.empty() || content.front() == '#') continue;
      row.line = line_no_;
      row.fields = split_fields(line, delimiter_, cat(name_, ":", line_no_));
      return true;
    }
    return false;
  }

 private:
  const std::string& text_;
  const std::string& name_;
  char delimiter_;
  size_t pos_ = 0;
  int64_t line_no_ = 0;
};

// The hint of CsvTable::label_hint for column c of a table (rows, cols) of values, or "" when the
// column does not look like a class column: integers only, 2 to kMaxClasses distinct values, all
// within ±kMaxClass.
std::string class_column_hint(const std::vector<float>& values, int64_t rows, int64_t cols,
                              int64_t c) {
  constexpr size_t kMaxClasses = 20;
  constexpr float kMaxClass = 1000;
  std::vector<float> seen;
  for (int64_t i = 0; i < rows; ++i) {
    const float v = values[static_cast<size_t>(i * cols + c)];
    if (v != std::round(v) || std::fabs(v) > kMaxClass) return "";
    if (std::find(seen.begin(), seen.end(), v) == seen.end()) {
      if (seen.size() == kMaxClasses) return "";
      seen.push_back(v);
    }
  }
  if (seen.size() < 2) return "";
  const auto [lo, hi] = std::minmax_element(seen.begin(), seen.end());
  return cat("column ", c, c == 0 ? " (the first)" : " (the last)", " holds only the ", seen.size(),
             " integers ", *lo, " to ", *hi);
}

}  // namespace

CsvTable parse_csv(const std::string& text, const std::string& name, const CsvOptions& options) {
  AE_CHECK(options.delimiter != '"' && options.delimiter != '\n' && options.delimiter != '#', name,
           ": invalid CSV delimiter '", options.delimiter, "'");
  AE_CHECK(!(options.label_name && options.label_index), name,
           ": give the label column by name or by index, not both");

  AE_CHECK(options.skip_rows >= 0, name, ": rows to skip must be >= 0, got ", options.skip_rows);
  RowReader reader(text, name, options.delimiter, options.skip_rows);
  Row first;
  AE_CHECK(reader.next(first), name, ": no data rows (the file is empty or only comments",
           options.skip_rows > 0 ? cat(" after skipping ", options.skip_rows, " lines") : "", ")");
  // A first line of another width than the row below is neither its header nor a row of the
  // table: a title, or counts and class names, above it.
  Row second;
  const bool has_second = reader.next(second);
  if (has_second && second.fields.size() != first.fields.size()) {
    // One more field, and that one empty: the rows end with the delimiter. Skipping the first
    // line would drop the header, so that is not what to suggest.
    const bool trailing = second.fields.size() == first.fields.size() + 1 &&
                          second.fields.back().find_first_not_of(" \t\r") == std::string::npos;
    if (trailing)
      fail(cat(name, ":", second.line, ": the row ends with an empty field (a trailing '",
               options.delimiter, "'): it has ", second.fields.size(), " fields where line ",
               first.line, " has ", first.fields.size(), "; remove the trailing delimiter from the "
               "rows"));
    std::string shown = first.fields.empty() ? "" : first.fields[0];
    for (size_t c = 1; c < first.fields.size() && shown.size() <= 40; ++c) shown += cat(",", first.fields[c]);
    if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
    fail(cat(name, ":", first.line, ": '", shown, "' has ", first.fields.size(),
             " fields but line ", second.line, " below it has ", second.fields.size(),
             ", so it is not the header of the rows below; if it is not part of the table, skip it "
             "(--skip-rows ", first.line, ")"));
  }

  // Auto: a header has a field that is not a number at all; "nan" or "1e99" in the first row is
  // bad data, reported as such below rather than taken for a header.
  bool has_header = options.header == CsvHeader::Yes;
  if (options.header == CsvHeader::Auto) {
    float unused = 0;
    for (const std::string& f : first.fields)
      if (parse_float(f, unused) == Parse::NotNumber) has_header = true;
  }

  const size_t ncols = first.fields.size();
  std::vector<std::string> names;
  if (has_header) {
    names = first.fields;
  } else {
    for (size_t c = 0; c < ncols; ++c) names.push_back(std::to_string(c));
  }

  std::optional<size_t> label;
  if (options.label_name) {
    AE_CHECK(has_header, name, ": label column '", *options.label_name,
             "' given by name, but the file has no header row");
    for (size_t c = 0; c < ncols; ++c) {
      if (names[c] != *options.label_name) continue;
      AE_CHECK(!label, name, ": label column '", *options.label_name,
               "' appears more than once in the header");
      label = c;
    }
    if (!label) {
      std::string known;
      for (size_t c = 0; c < ncols; ++c) known += (c ? ", '" : "'") + names[c] + "'";
      fail(cat(name, ": label column '", *options.label_name,
               "' is not in the header (columns: ", known, ")"));
    }
  }
  if (options.label_index) {
    const int64_t i = *options.label_index;
    AE_CHECK(i >= 0 && i < static_cast<int64_t>(ncols), name, ": label column index ", i,
             " is out of range for ", ncols, " columns");
    label = static_cast<size_t>(i);
  }

  CsvTable table;
  for (size_t c = 0; c < ncols; ++c) {
    if (label && c == *label)
      table.label_column = names[c];
    else
      table.columns.push_back(names[c]);
  }

  auto add_row = [&](const Row& row) {
    AE_CHECK(row.fields.size() == ncols, name, ":", row.line, ": ", row.fields.size(),
             " fields, expected ", ncols);
    for (size_t c = 0; c < ncols; ++c) {
      const std::string& f = row.fields[c];
      float v = 0;
      switch (parse_float(f, v)) {
        case Parse::Ok: break;
        case Parse::NotNumber:
          fail(cat(name, ":", row.line, ": column '", names[c], "': '", f, "' is not a number"));
        case Parse::NotFinite:
          fail(cat(name, ":", row.line, ": column '", names[c], "': ", f,
                   " is not a finite number"));
        case Parse::OutOfRange:
          fail(cat(name, ":", row.line, ": column '", names[c], "': ", f,
                   " is out of float32 range"));
      }
      if (label && c == *label)
        table.labels.push_back(v);
      else
        table.features.data.push_back(v);
    }
  };
  // Reserve once for a well-formed file: there are no more rows than lines, and no more values
  // than half the characters ("0,"), so a hostile text cannot make this reservation large.
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  const size_t max_rows = std::min(lines, text.size() / (2 * ncols) + 1);
  table.features.data.reserve(max_rows * table.columns.size());
  if (label) table.labels.reserve(max_rows);

  int64_t nrows = 0;
  if (!has_header) {
    add_row(first);
    ++nrows;
  }
  if (has_second) {
    add_row(second);
    ++nrows;
    for (Row row; reader.next(row); ++nrows) add_row(row);
  }
  AE_CHECK(nrows > 0, name, ": no data rows after the header on line ", first.line);
  table.features.shape = {nrows, static_cast<int64_t>(table.columns.size())};
  table.features.data.shrink_to_fit();
  table.labels.shrink_to_fit();
  if (!has_header && !label && table.columns.size() > 1) {
    const int64_t cols = static_cast<int64_t>(table.columns.size());
    std::string hint;
    for (int64_t c : {int64_t{0}, cols - 1}) {
      const std::string h = class_column_hint(table.features.data, nrows, cols, c);
      if (!h.empty()) hint += (hint.empty() ? "" : " and ") + h;
    }
    if (!hint.empty())
      table.label_hint = cat(name, ": no header, and ", hint,
                             ": if it is the class, pass its index as the label column "
                             "(--label-column); it is read as a feature now");
  }
  return table;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options, uint64_t max_bytes) {
  std::string text;
  {
    // The bytes are released before parsing, so the file is held once.
    const Bytes bytes = read_file_inflated(path, max_bytes);
    text.assign(bytes.begin(), bytes.end());
  }
  return parse_csv(text, path, options);
}

}  // namespace ae::io
