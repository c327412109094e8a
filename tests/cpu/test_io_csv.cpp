#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/csv.h"
#include "tests/common/io_testing.h"

namespace ae::io {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

using Floats = std::vector<float>;
using Names = std::vector<std::string>;

TEST(IoCsv, HeaderIsDetectedAndNamesTheColumns) {
  const CsvTable t = parse_csv("x1,x2,x3\n1,2,3\n4.5,-5e-1,+6\n", "t.csv");
  EXPECT_EQ(t.columns, (Names{"x1", "x2", "x3"}));
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.features.data, (Floats{1, 2, 3, 4.5f, -0.5f, 6}));
  EXPECT_TRUE(t.labels.empty());
  EXPECT_TRUE(t.label_column.empty());
}

TEST(IoCsv, NoHeaderIsDetectedAndColumnsAreNumbered) {
  const CsvTable t = parse_csv("1,2\n3,4\n", "t.csv");
  EXPECT_EQ(t.columns, (Names{"0", "1"}));
  EXPECT_EQ(t.features.data, (Floats{1, 2, 3, 4}));
}

TEST(IoCsv, HeaderOptionOverridesDetection) {
  CsvOptions yes;
  yes.header = CsvHeader::Yes;
  const CsvTable t = parse_csv("10,20\n3,4\n", "t.csv", yes);  // numeric names
  EXPECT_EQ(t.columns, (Names{"10", "20"}));
  EXPECT_EQ(t.features.data, (Floats{3, 4}));
  CsvOptions no;
  no.header = CsvHeader::No;
  const std::string msg = error_of([&] { parse_csv("a,b\n3,4\n", "t.csv", no); });
  EXPECT_EQ(msg, "t.csv:1: column '0': 'a' is not a number");
}

TEST(IoCsv, LabelByNameIsRemovedFromFeatures) {
  CsvOptions o;
  o.label_name = "digit";
  const CsvTable t = parse_csv("p0,digit,p1\n0.5,7,0.25\n1,2,0\n", "t.csv", o);
  EXPECT_EQ(t.columns, (Names{"p0", "p1"}));
  EXPECT_EQ(t.label_column, "digit");
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.features.data, (Floats{0.5f, 0.25f, 1, 0}));
  EXPECT_EQ(t.labels, (Floats{7, 2}));
}

TEST(IoCsv, LabelByIndexWorksWithoutHeader) {
  CsvOptions o;
  o.label_index = 0;
  const CsvTable t = parse_csv("3,1,2\n4,5,6\n", "t.csv", o);
  EXPECT_EQ(t.labels, (Floats{3, 4}));
  EXPECT_EQ(t.features.data, (Floats{1, 2, 5, 6}));
  EXPECT_EQ(t.columns, (Names{"1", "2"}));
  EXPECT_EQ(t.label_column, "0");
}

TEST(IoCsv, CommentsBlankLinesCrlfAndSpacesAreSkipped) {
  const std::string text =
      "# exported by a tool\r\n"
      "\r\n"
      "  a , b \r\n"
      "   # an indented comment\n"
      "1 , 2\r\n"
      "\n"
      "\t3,4";  // last line without a newline
  const CsvTable t = parse_csv(text, "t.csv");
  EXPECT_EQ(t.columns, (Names{"a", "b"}));
  EXPECT_EQ(t.features.data, (Floats{1, 2, 3, 4}));
}

TEST(IoCsv, QuotedFieldsAndOtherDelimiters) {
  const CsvTable t = parse_csv("\"len, cm\",\"say \"\"hi\"\"\"\n\"1.5\",2\n", "t.csv");
  EXPECT_EQ(t.columns, (Names{"len, cm", "say \"hi\""}));
  EXPECT_EQ(t.features.data, (Floats{1.5f, 2}));
  CsvOptions semi;
  semi.delimiter = ';';
  EXPECT_EQ(parse_csv("a;b\n1.5;2\n", "t.csv", semi).features.data, (Floats{1.5f, 2}));
  EXPECT_EQ(error_of([&] { parse_csv("a;b\n1,5;2\n", "t.csv", semi); }),
            "t.csv:2: column 'a': '1,5' is a number with a decimal comma; pass --decimal , to read "
            "it");
  EXPECT_EQ(error_of([&] { parse_csv("a;b\n1,5.3;2\n", "t.csv", semi); }),
            "t.csv:2: column 'a': '1,5.3' is not a number");
}

TEST(IoCsv, TabDelimitedFileFromDisk) {
  TempDir dir;
  test::write_raw(dir.path("d.tsv"), std::string("\xEF\xBB\xBFu\tv\tlabel\n1\t2\t0\n3\t4\t1\n"));
  CsvOptions o;
  o.delimiter = '\t';
  o.label_name = "label";
  const CsvTable t = read_csv(dir.path("d.tsv"), o);
  EXPECT_EQ(t.columns, (Names{"u", "v"}));  // the byte order mark is not part of "u"
  EXPECT_EQ(t.labels, (Floats{0, 1}));
  EXPECT_EQ(t.features.data, (Floats{1, 2, 3, 4}));
}

#if AE_HAVE_ZLIB
TEST(IoCsv, GzipFile) {
  TempDir dir;
  const std::string text = "a,b\n1,2\n";
  test::write_raw(dir.path("t.csv.gz"), test::gzip(Bytes(text.begin(), text.end())));
  EXPECT_EQ(read_csv(dir.path("t.csv.gz")).features.data, (Floats{1, 2}));
}
#endif

TEST(IoCsv, FixtureFileWithLabelByName) {
  CsvOptions o;
  o.label_name = "species";
  const CsvTable t = read_csv(std::string(AE_SOURCE_DIR) + "/tests/data/io_small.csv", o);
  EXPECT_EQ(t.columns, (Names{"sepal_length", "sepal_width", "petal, length"}));
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(t.features.rows(), 4);
  EXPECT_EQ(t.features.cols(), 3);
  EXPECT_EQ(t.features.data,
            (Floats{5.1f, 3.5f, 1.4f, 4.9f, 3.0f, 1.4f, 7.0f, 3.2f, 4.7f, 6.3f, 3.3f, 6.0f}));
  EXPECT_EQ(t.labels, (Floats{0, 0, 1, 2}));
}

TEST(IoCsv, RaggedRowNamesLineAndCounts) {
  TempDir dir;
  const std::string path = dir.path("r.csv");
  test::write_raw(path, std::string("a,b,c,d,e,f,g\n# note\n1,2,3,4,5,6,7\n1,2,3,4,5\n"));
  EXPECT_EQ(error_of([&] { read_csv(path); }), path + ":4: 5 fields, expected 7");
}

// A first line of another width than the row below it is not a header (a line of counts and
// class names, as some bundled data sets have): the error says so, names both lines and says
// how many lines to skip; skipping them reads the table.
TEST(IoCsv, FirstLineOfAnotherWidthIsNotTheHeader) {
  const std::string text = "3,2,setosa,versicolor\n1.5,2.5,0\n3.5,4.5,1\n5.5,6.5,1\n";
  EXPECT_EQ(error_of([&] { parse_csv(text, "f.csv"); }),
            "f.csv:1: '3,2,setosa,versicolor' has 4 fields but line 2 below it has 3, so it is not "
            "the header of the rows below; if it is not part of the table, skip it (--skip-rows 1)");
  // The same with a numeric first line, and after a comment: the count is of lines.
  EXPECT_NE(error_of([&] { parse_csv("# made by hand\n150,4\n1,2,3\n", "g.csv"); })
                .find("g.csv:2: '150,4' has 2 fields but line 3 below it has 3"),
            std::string::npos);
  CsvOptions o;
  o.skip_rows = 1;
  o.label_index = 2;
  const CsvTable t = parse_csv(text, "f.csv", o);
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t.labels, (Floats{0, 1, 1}));
  EXPECT_TRUE(t.label_hint.empty());
  // Line numbers stay the file's.
  o.label_index.reset();
  EXPECT_EQ(error_of([&] { parse_csv("title\n1,2\n3,x\n", "h.csv", o); }),
            "h.csv:3: column '1': 'x' is not a number");
  o.skip_rows = 5;
  EXPECT_EQ(error_of([&] { parse_csv(text, "f.csv", o); }),
            "f.csv: no data rows (the file is empty or only comments after skipping 5 lines)");
  o.skip_rows = -1;
  EXPECT_NE(error_of([&] { parse_csv(text, "f.csv", o); }).find("-1"), std::string::npos);
}

// Rows that all end with the delimiter have one empty field more than their header: the error
// says so (skipping the header, as for a title line, would be the wrong advice).
TEST(IoCsv, TrailingDelimiterIsNamedNotTakenForATitleLine) {
  const std::string e = error_of([&] { parse_csv("x,y\n1,2,\n3,4,\n", "t.csv"); });
  EXPECT_EQ(e, "t.csv:2: the row ends with an empty field (a trailing ','): it has 3 fields where "
               "line 1 has 2; remove the trailing delimiter from the rows");
  EXPECT_EQ(e.find("--skip-rows"), std::string::npos) << e;
  CsvOptions o;
  o.delimiter = ';';
  EXPECT_NE(error_of([&] { parse_csv("x;y\n1;2; \n", "s.csv", o); }).find("a trailing ';'"),
            std::string::npos);
  // An extra field that is not empty is still the title-line case.
  EXPECT_NE(error_of([&] { parse_csv("x,y\n1,2,3\n", "u.csv"); }).find("--skip-rows 1"),
            std::string::npos);
}

// A header-less table whose first or last column holds a few small integers gets a hint about the
// label column; nothing is guessed (the column stays a feature), and there is no hint when a
// label column is given, the table has a header, or the column is not class-like.
TEST(IoCsv, IntegerEdgeColumnOfAHeaderlessTableGetsALabelHint) {
  const std::string text = "0.5,1.25,2\n0.75,3.5,0\n1.5,2.5,1\n2.25,0.5,2\n";
  const CsvTable t = parse_csv(text, "f.csv");
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(t.label_hint,
            "f.csv: no header, and column 2 (the last) holds only the 3 integers 0 to 2: if it is "
            "the class, pass its index as the label column (--label-column); it is read as a "
            "feature now");
  EXPECT_NE(parse_csv("7,0.5,1\n3,0.25,2\n7,0.5,3\n", "g.csv").label_hint.find(
                "column 0 (the first) holds only the 2 integers 3 to 7"),
            std::string::npos);
  CsvOptions o;
  o.label_index = 2;
  EXPECT_TRUE(parse_csv(text, "f.csv", o).label_hint.empty());
  EXPECT_TRUE(parse_csv("a,b,c\n" + text, "f.csv").label_hint.empty());
  // Real values, a single value, or too many distinct ones: no hint.
  EXPECT_TRUE(parse_csv("0.5,1.5\n0.25,2.5\n", "f.csv").label_hint.empty());
  EXPECT_TRUE(parse_csv("0.5,1\n0.25,1\n", "f.csv").label_hint.empty());
  std::string many;
  for (int i = 0; i < 30; ++i) many += cat(i * 0.5, ",", i, "\n");
  EXPECT_TRUE(parse_csv(many, "f.csv").label_hint.empty());
}

TEST(IoCsv, UnparsableNumberNamesColumnAndText) {
  EXPECT_EQ(error_of([] { parse_csv("x1,x2,x3\n1,2,3\n4,5,abc\n", "f.csv"); }),
            "f.csv:3: column 'x3': 'abc' is not a number");
  EXPECT_EQ(error_of([] { parse_csv("x1,x2\n1,\n", "f.csv"); }),
            "f.csv:2: column 'x2': '' is not a number");
  EXPECT_EQ(error_of([] { parse_csv("x1\n1.5.2\n", "f.csv"); }),
            "f.csv:2: column 'x1': '1.5.2' is not a number");
  EXPECT_EQ(error_of([] { parse_csv("x1\n+-1\n", "f.csv"); }),
            "f.csv:2: column 'x1': '+-1' is not a number");
  EXPECT_EQ(error_of([] { parse_csv("x1\n0x10\n", "f.csv"); }),
            "f.csv:2: column 'x1': '0x10' is not a number");
}

TEST(IoCsv, NonFiniteValuesAreRefused) {
  EXPECT_EQ(error_of([] { parse_csv("x1,x2,x3\n1,2,nan\n", "f.csv"); }),
            "f.csv:2: column 'x3': nan is not a finite number");
  EXPECT_EQ(error_of([] { parse_csv("x1,x2\n-inf,2\n", "f.csv"); }),
            "f.csv:2: column 'x1': -inf is not a finite number");
  // A NaN in the first row is bad data, not a sign of a header.
  EXPECT_EQ(error_of([] { parse_csv("1,NaN\n", "f.csv"); }),
            "f.csv:1: column '1': NaN is not a finite number");
  EXPECT_EQ(error_of([] { parse_csv("x\n1e39\n", "f.csv"); }),
            "f.csv:2: column 'x': 1e39 is out of float32 range");
}

TEST(IoCsv, LabelColumnErrors) {
  CsvOptions by_name;
  by_name.label_name = "y";
  EXPECT_EQ(error_of([&] { parse_csv("a,b\n1,2\n", "f.csv", by_name); }),
            "f.csv: label column 'y' is not in the header (columns: 'a', 'b')");
  EXPECT_EQ(error_of([&] { parse_csv("1,2\n", "f.csv", by_name); }),
            "f.csv: label column 'y' given by name, but the file has no header row");
  EXPECT_EQ(error_of([&] { parse_csv("y,y\n1,2\n", "f.csv", by_name); }),
            "f.csv: label column 'y' appears more than once in the header");
  CsvOptions by_index;
  by_index.label_index = 2;
  EXPECT_EQ(error_of([&] { parse_csv("1,2\n", "f.csv", by_index); }),
            "f.csv: label column index 2 is out of range for 2 columns");
  CsvOptions both = by_name;
  both.label_index = 0;
  EXPECT_TRUE(contains(error_of([&] { parse_csv("y\n1\n", "f.csv", both); }), "not both"));
}

TEST(IoCsv, EmptyInputsAndBadQuotes) {
  EXPECT_EQ(error_of([] { parse_csv("# only a comment\n\n", "e.csv"); }),
            "e.csv: no data rows (the file is empty or only comments)");
  EXPECT_EQ(error_of([] { parse_csv("\n# c\na,b\n", "e.csv"); }),
            "e.csv: no data rows after the header on line 3");
  EXPECT_EQ(error_of([] { parse_csv("a\n\"1\n", "q.csv"); }),
            "q.csv:2: unterminated quoted field (quoted fields cannot span lines)");
  EXPECT_EQ(error_of([] { parse_csv("a\n\"1\"x\n", "q.csv"); }),
            "q.csv:2: unexpected 'x' after a closing quote");
  const std::string missing = "/nonexistent/ae/data.csv";
  EXPECT_EQ(error_of([&] { read_csv(missing); }),
            missing + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace ae::io

namespace ae::io {
namespace {

std::string fixture(const std::string& name) { return test::saved_file(name); }

// The features of a fixture of tests/data/files/ (make_files.py): 40 rows of a, b, c and a
// label column, in any of the separators people use.
CsvTable read_fixture(const std::string& name, CsvOptions o = {}) {
  o.label_name = "label";
  return read_csv(fixture(name), o);
}

TEST(IoCsv, SemicolonTabPipeAndSpaceAreSniffedFromTheFirstRows) {
  const CsvTable comma = read_fixture("mac_cr.csv");
  EXPECT_EQ(comma.delimiter, ',');
  for (const auto& [name, delimiter] : {std::pair<const char*, char>{"semicolon.csv", ';'},
                                        {"tabs.tsv", '\t'},
                                        {"pipes.txt", '|'}}) {
    const CsvTable t = read_fixture(name);
    EXPECT_EQ(t.delimiter, delimiter) << name;
    EXPECT_EQ(t.columns, (Names{"a", "b", "c"})) << name;
    EXPECT_EQ(t.features.data, comma.features.data) << name;
    EXPECT_EQ(t.labels, comma.labels) << name;
  }
  // np.savetxt's default: one space between fields.
  EXPECT_EQ(parse_csv("1.5e+00 -2.0e+00\n3.0e+00 4.0e+00\n", "s.txt").features.data,
            (Floats{1.5f, -2, 3, 4}));
  // A quoted field that holds the other candidates does not mislead it.
  EXPECT_EQ(sniff_delimiter("\"x;y\"|\"u,v\"\n1|2\n3|4\n"), '|');
  // A title line of another width above the rows: the rows decide (and the title gets the
  // --skip-rows advice).
  EXPECT_EQ(sniff_delimiter("300;5;first;second\n1;2;3;4;5;0\n6;7;8;9;1;1\n"), ';');
  // Nothing fits (one column): ','.
  EXPECT_EQ(sniff_delimiter("x\n1\n2\n"), ',');
  // With ',' as the decimal mark, ';' is the usual separator and ',' never a candidate.
  EXPECT_EQ(sniff_delimiter("1,5\n2,5\n", 0, ','), ';');
}

TEST(IoCsv, TsvMeansTabEvenWhenCommasSplitItsRowsAlike) {
  TempDir dir;
  // Tab-separated numbers with decimal commas: ',' splits every row in three as well.
  const std::string text = "a,x\tb,y\n1,5\t2,5\n3,5\t4,5\n";
  test::write_raw(dir.path("t.tsv"), text);
  test::write_raw(dir.path("t.txt"), text);
  EXPECT_EQ(error_of([&] { read_csv(dir.path("t.tsv")); }),
            dir.path("t.tsv") + ":2: column 'a,x': '1,5' is a number with a decimal comma; pass "
                                "--decimal , to read it");
  EXPECT_TRUE(contains(error_of([&] { read_csv(dir.path("t.txt")); }), "is not a number"));
  CsvOptions o;
  o.decimal = ',';
  for (const char* name : {"t.tsv", "t.txt"}) {
    const CsvTable t = read_csv(dir.path(name), o);
    EXPECT_EQ(t.delimiter, '\t');
    EXPECT_EQ(t.columns, (Names{"a,x", "b,y"}));
    EXPECT_EQ(t.features.data, (Floats{1.5f, 2.5f, 3.5f, 4.5f}));
  }
}

TEST(IoCsv, DecimalCommaIsNamedAndReadWithItsOption) {
  const std::string p = fixture("decimal_comma.csv");
  EXPECT_EQ(error_of([&] { read_fixture("decimal_comma.csv"); }),
            p + ":2: column 'a': '0,35877' is a number with a decimal comma; pass --decimal , to "
                "read it");
  CsvOptions o;
  o.decimal = ',';
  const CsvTable t = read_fixture("decimal_comma.csv", o);
  EXPECT_EQ(t.delimiter, ';');
  const CsvTable dot = read_fixture("semicolon.csv");
  EXPECT_EQ(t.features.data, dot.features.data);
  EXPECT_EQ(t.labels, dot.labels);
  // With ',' as the decimal mark a '.' is refused: "1.234" may mean 1234.
  EXPECT_EQ(error_of([&] { parse_csv("a;b\n1.234;2\n", "d.csv", o); }),
            "d.csv:2: column 'a': '1.234' is not a number (with ',' as the decimal mark, a '.' is "
            "not one)");
  o.delimiter = ',';
  EXPECT_EQ(error_of([&] { parse_csv("a;b\n1;2\n", "d.csv", o); }),
            "d.csv: ',' cannot be both the delimiter and the decimal mark");
  // A header-less table of decimal-comma numbers is not taken for a header.
  o.delimiter = 0;
  EXPECT_EQ(parse_csv("1,5;2\n3;4,25\n", "d.csv", o).features.data, (Floats{1.5f, 2, 3, 4.25f}));
}

TEST(IoCsv, ExtraFieldsFromADecimalCommaAreNotATitleLine) {
  // One column of decimal-comma numbers: with ',' as the delimiter each row has two fields and
  // the header one, which is not a title line to skip.
  const std::string p = fixture("one_column_decimal_comma.csv");
  const std::string e = error_of([&] { read_csv(p); });
  EXPECT_EQ(e, p + ":2: '0,35877' is a number with a decimal comma, which ',' as the delimiter "
                   "splits in two (2 fields where line 1 has 1); pass --decimal , to read it");
  EXPECT_EQ(e.find("--skip-rows"), std::string::npos);
  CsvOptions o;
  o.decimal = ',';
  const CsvTable t = read_csv(p, o);
  EXPECT_EQ(t.columns, (Names{"value"}));
  EXPECT_EQ(t.features.shape, (std::vector<int64_t>{40, 1}));
  EXPECT_FLOAT_EQ(t.features.data[0], 0.35877f);
  // The same with ',' given as the delimiter on a ';' file: both options are named.
  o = {};
  o.delimiter = ',';
  EXPECT_TRUE(contains(error_of([&] { read_fixture("decimal_comma.csv", o); }),
                       ":2: '0,35877' is a number with a decimal comma, which ',' as the delimiter "
                       "splits in two (4 fields where line 1 has 1); pass --decimal , --delimiter "
                       "';' to read it"));
  // A later row split by a decimal comma, the rows above without one.
  EXPECT_EQ(error_of([&] { parse_csv("v\n1\n2\n-2,5\n", "l.csv"); }),
            "l.csv:4: '-2,5' is a number with a decimal comma, which ',' as the delimiter splits "
            "in two (2 fields where line 1 has 1); pass --decimal , to read it");
  // A number above rows of two fields may be a count: that keeps the title-line advice.
  EXPECT_TRUE(contains(error_of([&] { parse_csv("150\n1,2\n3,4\n", "c.csv"); }),
                       "(--skip-rows 1)"));
}

TEST(IoCsv, CarriageReturnLineEndsAreLineEnds) {
  // What Excel for old Macs saves: "\r" alone.
  const CsvTable cr = read_fixture("mac_cr.csv");
  EXPECT_EQ(cr.features.shape, (std::vector<int64_t>{40, 3}));
  EXPECT_EQ(cr.features.data, read_fixture("semicolon.csv").features.data);
  // Mixed with comments, blank lines and the other line ends; line numbers count each.
  const std::string text = "# note\ra,b\r\r1,2\r\n3,4\n5,x\r";
  EXPECT_EQ(error_of([&] { parse_csv(text, "m.csv"); }), "m.csv:6: column 'b': 'x' is not a number");
  CsvOptions o;
  o.skip_rows = 2;  // the title and the header
  o.header = CsvHeader::No;
  EXPECT_EQ(parse_csv("title\ra,b\r1,2\r3,4\r", "s.csv", o).features.data, (Floats{1, 2, 3, 4}));
}

}  // namespace
}  // namespace ae::io
