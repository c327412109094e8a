// libFuzzer target: parse_csv. The first byte picks the options (delimiter, header mode, label
// column, a line to skip, the decimal mark), the rest is the text.
#include "data/csv.h"

#include "core/error.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ae::io;
  if (size == 0) return 0;
  const uint8_t pick = data[0];
  CsvOptions options;
  options.delimiter = "\0;\t "[pick & 3];  // 0: sniffed
  options.header = (pick >> 2 & 3) == 1 ? CsvHeader::Yes
                   : (pick >> 2 & 3) == 2 ? CsvHeader::No
                                          : CsvHeader::Auto;
  switch (pick >> 4 & 3) {
    case 1: options.label_name = "label"; break;
    case 2: options.label_index = 0; break;
    case 3: options.label_index = 2; break;
    default: break;
  }
  options.skip_rows = pick >> 6 & 1;
  options.decimal = pick >> 7 ? ',' : '.';
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const CsvTable t = parse_csv(text, "fuzz.csv", options);
    const bool labelled = options.label_name || options.label_index;
    FUZZ_CHECK(t.features.shape.size() == 2);
    const int64_t rows = t.features.shape[0], cols = t.features.shape[1];
    FUZZ_CHECK(rows > 0 && cols >= 0);
    FUZZ_CHECK(t.features.data.size() == static_cast<size_t>(rows * cols));
    FUZZ_CHECK(t.columns.size() == static_cast<size_t>(cols));
    FUZZ_CHECK(t.labels.size() == (labelled ? static_cast<size_t>(rows) : 0));
    FUZZ_CHECK(labelled || t.label_column.empty());
    FUZZ_CHECK(!labelled || t.label_hint.empty());
  } catch (const ae::Error&) {
  }
  return 0;
}
