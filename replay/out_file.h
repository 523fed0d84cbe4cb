// ledger-replay's outputs (rebuild's --out DIR, export's --out FILE), written atomically
// (DECISIONS 99): the output is built under a hidden name beside --out (so on the same
// filesystem), synced, and only then given --out's name, by a rename that never replaces
// anything. An auditor never finds a partial output under the name they asked for: a
// failure, a stop, or something else creating --out meanwhile leaves nothing there, and
// the partial is removed. Errors as Status values.
#pragma once

#include <sys/types.h>

#include <array>
#include <filesystem>
#include <streambuf>
#include <string>
#include <utility>

#include "ledger/status.h"

namespace replay {

enum class OutKind { kDirectory, kFile };

// `out` without trailing slashes: "dir/" names dir (and an lstat of "dir/" would follow a
// symlink at dir, which must be refused as one). "/" stays "/".
std::filesystem::path WithoutTrailingSlash(const std::string& out);

// InvalidArgument (a usage error) unless `out` can name a new output: something already
// there, a symlink included, dangling or not (nothing is overwritten, no link followed);
// an empty path or one ending in "." or ".."; for a file, a trailing '/'.
ledger::Status CheckOutFree(const std::string& out, OutKind kind);

// A hidden name beside `out`: "<parent>/.<name>.partial-<pid>-<8 hex digits>". Beside it
// so that a rename can move it into place; hidden so that a listing does not offer it as
// an output; the pid says which run left it (a SIGKILL leaves it). Long names are cut so
// that the whole fits a file name's 255 bytes.
std::string PartialSiblingName(const std::filesystem::path& out);

// Renames `from` to `to` unless anything is at `to`, a symlink included (never followed):
// renameat2 with RENAME_NOREPLACE, or, on a filesystem without it (NFS), link(2) for a
// file and a check then rename(2) for a directory. IOError "<to> appeared ..." when
// something is there, `from` left as it was; IOError otherwise.
ledger::Status RenameWithoutReplacing(const std::string& from, const std::string& to);

// fsync of the directory `dir` ("" is the current one), so that the names it holds (a
// rename's included) survive a crash.
ledger::Status SyncDirectory(const std::string& dir);

// fsync of every regular file and directory under `dir`, and of `dir`: what a rename is
// about to publish must be on disk before its name is.
ledger::Status SyncTree(const std::string& dir);

// An output being built beside `out`, removed with what it holds when this is destroyed,
// unless Publish gave it `out`'s name. Move-only.
class PartialOut {
 public:
  // A new directory beside `out` (mkdir, which creates or fails: nothing is followed),
  // mode 0755 less the umask, the mode --out had when it was made in place.
  static ledger::Result<PartialOut> MakeDirectory(const std::filesystem::path& out);
  // A new file beside `out`, open for writing (*fd, the caller's to close):
  // O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, `mode` less the umask.
  static ledger::Result<PartialOut> CreateFile(const std::filesystem::path& out, mode_t mode, int* fd);

  PartialOut(PartialOut&& other) noexcept;
  PartialOut& operator=(PartialOut&& other) noexcept;
  PartialOut(const PartialOut&) = delete;
  PartialOut& operator=(const PartialOut&) = delete;
  ~PartialOut();

  const std::string& path() const { return path_; }  // "" once published
  const std::string& out() const { return out_; }

  // Gives the partial `out`'s name without replacing anything (RenameWithoutReplacing),
  // then syncs `out`'s directory. The caller has synced the contents. On an error the
  // partial stays, for the destructor to remove; `out` is untouched.
  ledger::Status Publish();

 private:
  PartialOut(std::string path, std::string out) : path_(std::move(path)), out_(std::move(out)) {}
  std::string path_;
  std::string out_;
};

// An ostream's buffer over a file descriptor (PartialOut::CreateFile's): an ofstream would
// open the path again, by name, following whatever is there by then.
class FdOut final : public std::streambuf {
 public:
  explicit FdOut(int fd) : fd_(fd) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  // Closes the descriptor without writing what is buffered: a file not Close()d is being
  // discarded (its PartialOut removes it), so nothing more is spent on it.
  ~FdOut() override;
  FdOut(const FdOut&) = delete;
  FdOut& operator=(const FdOut&) = delete;

  // Writes what is buffered, syncs the file to disk and closes it; false when the disk
  // refused any of it (error() says why).
  bool Close();
  int error() const { return error_; }  // errno of the first failure, 0 when none

 protected:
  int overflow(int c) override;
  int sync() override { return Drain() ? 0 : -1; }

 private:
  bool Drain();

  int fd_;
  int error_ = 0;
  std::array<char, 1 << 16> buffer_{};
};

}  // namespace replay
