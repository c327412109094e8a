#include "data/csv.h"

#include <algorithm>
#include <cctype>
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

// Parses a whole field as a float32 value: decimal or exponent form, optional sign, with
// `decimal` ('.' or ',') as the decimal mark.
Parse parse_float(std::string_view s, float& out, char decimal = '.') {
  std::string swapped;
  if (decimal == ',') {
    if (s.find('.') != std::string_view::npos) return Parse::NotNumber;
    swapped.assign(s);
    std::replace(swapped.begin(), swapped.end(), ',', '.');
    s = swapped;
  }
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
  std::string_view text;  // the whole line, for messages
  std::vector<std::string> fields;
};

// The end of the line that starts at pos: the first '\n' or '\r' (or the end of the text);
// `next` is where the following line starts ("\r\n" counts as one line end).
size_t line_end(std::string_view text, size_t pos, size_t& next) {
  const size_t end = std::min(text.find_first_of("\r\n", pos), text.size());
  next = end + (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n' ? 2 : 1);
  return end;
}

// Where a text's rows start: after a UTF-8 byte order mark and `skip` lines.
size_t rows_start(std::string_view text, int64_t skip) {
  size_t pos = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  for (int64_t i = 0; i < skip && pos < text.size(); ++i) line_end(text, pos, pos);
  return pos;
}

// A number written with a decimal comma: "-5,79539".
bool decimal_comma_number(std::string_view f) {
  float unused = 0;
  return f.find(',') != std::string_view::npos && parse_float(f, unused, ',') == Parse::Ok;
}

// How --delimiter spells a separator.
std::string delimiter_flag(char d) {
  if (d == '\t') return "tab";
  if (d == ' ') return "space";
  return cat("'", d, "'");
}

// The rows of a CSV text one at a time, skipping blank and comment lines and a UTF-8 byte order
// mark, with 1-based line numbers for messages. Only the current row is held as strings, so a
// table costs its float values, not a string per field.
class RowReader {
 public:
  RowReader(const std::string& text, const std::string& name, char delimiter, int64_t skip_lines)
      : text_(text), name_(name), delimiter_(delimiter) {
    pos_ = rows_start(text_, skip_lines);
    line_no_ = skip_lines;
  }

  // Splits the next row into row; false at the end of the text.
  bool next(Row& row) {
    while (pos_ < text_.size()) {
      size_t next = 0;
      const size_t end = line_end(text_, pos_, next);
      const std::string_view line(text_.data() + pos_, end - pos_);
      pos_ = next;
      ++line_no_;
      const std::string_view content = trim(line);
      if (content.empty() || content.front() == '#') continue;
      row.line = line_no_;
      row.text = line;
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

// When `row` has more fields than `first` because its numbers are written with a decimal comma
// and ',' is taken for the delimiter ("-5,79539" split in two): the message that says so, with
// the flags that read the file; else "". The rows' real separator, if any, is the one of ';',
// tab, '|' and ' ' that splits both lines alike into numbers.
std::string decimal_comma_split(const Row& first, const Row& row, const std::string& name) {
  std::string dotted(row.text);  // each comma between two digits as a decimal point
  for (size_t i = 1; i + 1 < dotted.size(); ++i)
    if (dotted[i] == ',' && std::isdigit(static_cast<unsigned char>(dotted[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(dotted[i + 1])))
      dotted[i] = '.';
  if (dotted == row.text) return "";
  for (char d : {'\0', ';', '\t', '|', ' '}) {
    std::vector<std::string> fields, head;
    try {
      fields = d ? split_fields(dotted, d, name) : std::vector<std::string>{std::string(trim(dotted))};
      head = d ? split_fields(first.text, d, name) : std::vector<std::string>{""};
    } catch (const Error&) {
      continue;
    }
    if (fields.size() != head.size() || (d != '\0' && head.size() < 2)) continue;
    float unused = 0;
    // One number above rows of two is as likely a count above a table: the title-line advice.
    if (d == '\0' && parse_float(trim(first.text), unused) == Parse::Ok) continue;
    std::string shown;
    bool numbers = true;
    for (const std::string& f : fields) {
      numbers = numbers && parse_float(f, unused) == Parse::Ok;
      if (shown.empty() && f.find('.') != std::string::npos) shown = f;
    }
    if (!numbers || shown.empty()) continue;
    std::replace(shown.begin(), shown.end(), '.', ',');
    return cat(name, ":", row.line, ": '", shown, "' is a number with a decimal comma, which ',' as "
               "the delimiter splits in two (", row.fields.size(), " fields where line ", first.line,
               " has ", first.fields.size(), "); pass --decimal ,",
               d ? cat(" --delimiter ", delimiter_flag(d)) : std::string(), " to read it");
  }
  return "";
}

}  // namespace

char sniff_delimiter(const std::string& text, int64_t skip_rows, char decimal) {
  constexpr int kRows = 20;
  std::vector<std::string_view> lines;
  for (size_t pos = rows_start(text, std::max<int64_t>(skip_rows, 0));
       pos < text.size() && lines.size() < kRows;) {
    size_t next = 0;
    const size_t end = line_end(text, pos, next);
    const std::string_view line(text.data() + pos, end - pos);
    pos = next;
    const std::string_view content = trim(line);
    if (!content.empty() && content.front() != '#') lines.push_back(line);
  }
  auto widths = [&](char d) {
    std::vector<size_t> n;
    for (std::string_view line : lines) {
      // Space-separated rows (np.savetxt's) have one space between fields and none around them.
      if (d == ' ' && (line != trim(line) || line.find("  ") != std::string_view::npos))
        return std::vector<size_t>{};
      try {
        n.push_back(split_fields(line, d, "").size());
      } catch (const Error&) {
        return std::vector<size_t>{};
      }
    }
    return n;
  };
  const std::vector<char> candidates = {',', '\t', ';', '|', ' '};
  char below_first = 0;
  for (char d : candidates) {
    if (d == decimal) continue;
    const std::vector<size_t> n = widths(d);
    if (n.size() < 1 || n.back() < 2) continue;
    const bool rows_agree = std::all_of(n.begin() + 1, n.end(), [&](size_t w) { return w == n.back(); });
    if (rows_agree && n.front() == n.back()) return d;
    if (rows_agree && n.size() > 1 && below_first == 0) below_first = d;
  }
  if (below_first != 0) return below_first;
  return decimal == ',' ? ';' : ',';
}

CsvTable parse_csv(const std::string& text, const std::string& name, const CsvOptions& options) {
  AE_CHECK(options.decimal == '.' || options.decimal == ',', name, ": the decimal mark must be '.' "
           "or ',', got '", options.decimal, "'");
  AE_CHECK(options.skip_rows >= 0, name, ": rows to skip must be >= 0, got ", options.skip_rows);
  const char delimiter = options.delimiter != 0
                             ? options.delimiter
                             : sniff_delimiter(text, options.skip_rows, options.decimal);
  AE_CHECK(delimiter != '"' && delimiter != '\n' && delimiter != '\r' && delimiter != '#' &&
               delimiter != '.' && !(delimiter >= '0' && delimiter <= '9'),
           name, ": invalid CSV delimiter '", delimiter, "'");
  AE_CHECK(delimiter != options.decimal, name, ": '", delimiter,
           "' cannot be both the delimiter and the decimal mark");
  AE_CHECK(!(options.label_name && options.label_index), name,
           ": give the label column by name or by index, not both");

  RowReader reader(text, name, delimiter, options.skip_rows);
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
               delimiter, "'): it has ", second.fields.size(), " fields where line ",
               first.line, " has ", first.fields.size(), "; remove the trailing delimiter from the "
               "rows"));
    if (delimiter == ',' && options.decimal == '.') {
      const std::string split = decimal_comma_split(first, second, name);
      if (!split.empty()) fail(split);
    }
    std::string shown = first.fields.empty() ? "" : first.fields[0];
    for (size_t c = 1; c < first.fields.size() && shown.size() <= 40; ++c)
      shown += cat(delimiter, first.fields[c]);
    if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
    fail(cat(name, ":", first.line, ": '", shown, "' has ", first.fields.size(),
             " fields but line ", second.line, " below it has ", second.fields.size(),
             ", so it is not the header of the rows below; if it is not part of the table, skip it "
             "(--skip-rows ", first.line, ")"));
  }

  // Auto: a header has a field that is not a number at all; "nan" or "1e99" in the first row is
  // bad data, reported as such below rather than taken for a header.
  // A number with the other decimal mark is a number too, refused below with its own message.
  bool has_header = options.header == CsvHeader::Yes;
  if (options.header == CsvHeader::Auto) {
    float unused = 0;
    for (const std::string& f : first.fields)
      if (parse_float(f, unused, options.decimal) == Parse::NotNumber &&
          parse_float(f, unused, options.decimal == '.' ? ',' : '.') == Parse::NotNumber)
        has_header = true;
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
    if (row.fields.size() != ncols) {
      if (delimiter == ',' && options.decimal == '.' && row.fields.size() > ncols) {
        const std::string split = decimal_comma_split(first, row, name);
        if (!split.empty()) fail(split);
      }
      fail(cat(name, ":", row.line, ": ", row.fields.size(), " fields, expected ", ncols));
    }
    for (size_t c = 0; c < ncols; ++c) {
      const std::string& f = row.fields[c];
      float v = 0;
      switch (parse_float(f, v, options.decimal)) {
        case Parse::Ok: break;
        case Parse::NotNumber:
          if (options.decimal == '.' && decimal_comma_number(f))
            fail(cat(name, ":", row.line, ": column '", names[c], "': '", f,
                     "' is a number with a decimal comma; pass --decimal , to read it"));
          fail(cat(name, ":", row.line, ": column '", names[c], "': '", f, "' is not a number",
                   options.decimal == ',' && f.find('.') != std::string::npos
                       ? " (with ',' as the decimal mark, a '.' is not one)"
                       : ""));
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
  const size_t lines = static_cast<size_t>(std::count_if(
                          text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; })) +
                      1;
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
  table.delimiter = delimiter;
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
  CsvOptions o = options;
  std::string lower = path;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (o.delimiter == 0 && (lower.ends_with(".tsv") || lower.ends_with(".tsv.gz"))) o.delimiter = '\t';
  return parse_csv(text, path, o);
}

}  // namespace ae::io
