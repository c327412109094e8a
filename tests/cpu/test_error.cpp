// ae::Error's kind: what failed, set where the error is thrown and kept when a message is
// prefixed, so that a caller (the Python bindings) acts on it without reading the message.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "analysis/pca.h"
#include "core/error.h"
#include "data/file.h"
#include "run/run_folder.h"
#include "tests/common/io_testing.h"

namespace ae {
namespace {

using io::test::caught_error;
using io::test::TempDir;

TEST(Error, ChecksAreArgumentErrorsUnlessTheyNameTheirKind) {
  const Error plain = caught_error([] { AE_CHECK(1 + 1 == 3, "sum: ", 1 + 1, " is not 3"); });
  EXPECT_STREQ(plain.what(), "sum: 2 is not 3");
  EXPECT_EQ(plain.kind(), ErrorKind::argument);
  EXPECT_EQ(plain.os_error(), 0);
  const Error data =
      caught_error([] { AE_CHECK_KIND(data, false, "x.csv: row ", 3, " is short"); });
  EXPECT_STREQ(data.what(), "x.csv: row 3 is short");
  EXPECT_EQ(data.kind(), ErrorKind::data);
  const Error file = caught_error([] { fail("f: cannot open: gone", ErrorKind::file, ENOENT); });
  EXPECT_EQ(file.kind(), ErrorKind::file);
  EXPECT_EQ(file.os_error(), ENOENT);
  EXPECT_STREQ(to_string(ErrorKind::state), "state");
  EXPECT_STREQ(to_string(ErrorKind::type), "type");
}

TEST(Error, FileSystemFailuresAreFileErrorsWithTheirErrno) {
  TempDir dir;
  const Error missing = caught_error([&] { io::check_exists(dir.path("nope")); });
  EXPECT_EQ(std::string(missing.what()),
            dir.path("nope") + ": cannot open: No such file or directory");
  EXPECT_EQ(missing.kind(), ErrorKind::file);
  EXPECT_EQ(missing.os_error(), ENOENT);
  // A folder that is not a run folder: its checkpoint is missing.
  const Error no_run = caught_error([&] { run::find_checkpoint(dir.path(""), "best"); });
  EXPECT_EQ(no_run.kind(), ErrorKind::file);
  EXPECT_EQ(no_run.os_error(), ENOENT);
  io::test::write_raw(dir.path("file"), std::string("x"));
  const Error not_folder = caught_error([&] { run::create_run_folder(dir.path("file/run")); });
  EXPECT_EQ(not_folder.kind(), ErrorKind::file);
  EXPECT_EQ(not_folder.os_error(), ENOTDIR);
}

TEST(Error, AnUnfittedPcaIsAStateError) {
  const models::Pca pca;
  EXPECT_EQ(caught_error([&] { pca.transform(Tensor()); }).kind(), ErrorKind::state);
}

}  // namespace
}  // namespace ae
