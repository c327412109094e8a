// What a file holds, judged by its first bytes (and, for a zip archive, the names of its
// entries; for gzip, the first inflated bytes), so that a file ae does not read is named for what
// it is, with how to convert it, instead of failing somewhere inside a parser.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ae::io {

struct FileKind {
  // What ae reads it as: "npy", "npz", "safetensors", "idx" or "csv" (text); empty when it reads
  // none of them.
  std::string format;
  // What was found, for people: "a Parquet file (PAR1)"; empty when nothing was recognised.
  std::string what;
  // For a format ae does not read: how to convert it, one sentence with the command.
  std::string advice;
  bool gzip = false;  // the format is of the gzip stream's content
};

// The kind of the file at `path` (a regular file; a missing one is the usual "cannot open"
// error). Text (no NUL byte, no control characters but tab and line ends, in the first KiB) is
// "csv"; an empty file is unrecognised.
FileKind sniff_file(const std::string& path);

// The same from the first bytes alone (up to 1 KiB; a zip's entries are not looked at), for
// messages of readers that found the wrong magic: "a Parquet file (PAR1)", or "" when the bytes
// are not recognised.
std::string describe_head(const uint8_t* head, size_t n);

// `path`, `kind` (what sniff_file found) and its advice as one message:
// "x.parquet: a Parquet file (PAR1), which ae does not read; convert it: ...".
std::string not_readable_message(const std::string& path, const FileKind& kind);

}  // namespace ae::io
