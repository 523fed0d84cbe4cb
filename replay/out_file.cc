#include "replay/out_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

namespace replay {

namespace fs = std::filesystem;

namespace {

// Attempts at a partial's name before giving up: a clash needs the same pid and 32 random
// bits, so a second attempt already means something else is wrong.
constexpr int kNameAttempts = 8;
// Bytes of --out's name kept in its partial's: with the prefix and suffix (under 40 bytes)
// the whole stays within a file name's 255.
constexpr size_t kNameBytesMax = 200;

ledger::Status Appeared(const std::string& out) {
  return ledger::Status::IOError(out + " appeared while this ran (something else created it); it is not replaced");
}

ledger::Status Errno(const std::string& what) { return ledger::Status::IOError(what + ": " + std::strerror(errno)); }

// Only a name: exclusivity comes from mkdir and O_EXCL, and a clash is tried again.
uint32_t RandomSuffix() {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof r)) return r;
  return static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

bool Taken(const fs::path& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// fsync through a descriptor of its own; `flags`: O_DIRECTORY for a directory (whose path
// may end in a symlink, an --out's parent's may), O_NOFOLLOW for a file.
ledger::Status SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return Errno("cannot open " + path + " to sync it");
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) return ledger::Status::IOError("cannot sync " + path + ": " + std::strerror(error));
  return ledger::Status::Ok();
}

// RenameWithoutReplacing on a filesystem whose rename takes no flags (NFS answers EINVAL).
// A file: link(2) never replaces, then the partial's name goes. A directory cannot be
// linked, and rename(2) of one fails on anything at `to` except an empty directory: the
// check just before it leaves only an empty directory made in between to be replaced.
// A check, then rename(2): what is left when neither flags nor links are (a directory; a
// file on a filesystem without hard links).
ledger::Status CheckThenRename(const std::string& from, const std::string& to) {
  if (Taken(to)) return Appeared(to);
  if (::rename(from.c_str(), to.c_str()) == 0) return ledger::Status::Ok();
  if (errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR) return Appeared(to);
  return Errno("cannot rename " + from + " to " + to);
}

ledger::Status RenameWithoutFlags(const std::string& from, const std::string& to) {
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0) return Errno("cannot rename " + from);
  if (S_ISDIR(st.st_mode)) return CheckThenRename(from, to);
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return Appeared(to);
    // No hard links here (CIFS without unix extensions, some FUSE filesystems).
    if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) return CheckThenRename(from, to);
    return Errno("cannot link " + from + " to " + to);
  }
  ::unlink(from.c_str());  // the output is whole at `to`; this name was only a second link
  return ledger::Status::Ok();
}

}  // namespace

fs::path WithoutTrailingSlash(const std::string& out) {
  std::string path = out;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

ledger::Status CheckOutFree(const std::string& out, OutKind kind) {
  const char* what = kind == OutKind::kDirectory ? "a new directory" : "a new file";
  if (kind == OutKind::kFile && !out.empty() && out.back() == '/')
    return ledger::Status::InvalidArgument("--out " + out + " ends in '/': name " + what);
  const fs::path path = WithoutTrailingSlash(out);
  if (Taken(path))
    return ledger::Status::InvalidArgument("--out " + out +
                                           " already exists (or is a symlink): nothing is overwritten, name a new path");
  const std::string name = path.filename().string();
  if (name.empty() || name == "." || name == "..") return ledger::Status::InvalidArgument(std::string("--out must name ") + what);
  return ledger::Status::Ok();
}

std::string PartialSiblingName(const fs::path& out) {
  const std::string name = out.filename().string().substr(0, kNameBytesMax);
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, ".partial-%ld-%08x", static_cast<long>(::getpid()),
                static_cast<unsigned>(RandomSuffix()));
  return (out.parent_path() / ("." + name + suffix)).string();
}

ledger::Status RenameWithoutReplacing(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return ledger::Status::Ok();
  if (errno == EEXIST || errno == ENOTEMPTY) return Appeared(to);
  if (errno == EINVAL || errno == ENOSYS) return RenameWithoutFlags(from, to);
  return Errno("cannot rename " + from + " to " + to);
}

ledger::Status SyncDirectory(const std::string& dir) { return SyncPath(dir.empty() ? "." : dir, O_DIRECTORY); }

ledger::Status SyncTree(const std::string& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::file_type type = it->symlink_status(ec).type();
    if (ec) break;
    if (type == fs::file_type::regular) LEDGER_RETURN_IF_ERROR(SyncPath(it->path().string(), O_NOFOLLOW));
    if (type == fs::file_type::directory) LEDGER_RETURN_IF_ERROR(SyncDirectory(it->path().string()));
  }
  if (ec) return ledger::Status::IOError("cannot list " + dir + " to sync it: " + ec.message());
  return SyncDirectory(dir);
}

ledger::Result<PartialOut> PartialOut::MakeDirectory(const fs::path& out) {
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    std::string path = PartialSiblingName(out);
    if (::mkdir(path.c_str(), 0755) == 0) return PartialOut(std::move(path), out.string());
    if (errno != EEXIST) return Errno("cannot create a directory beside " + out.string());
  }
  return ledger::Status::IOError("cannot create a directory beside " + out.string() + ": every name tried was taken");
}

ledger::Result<PartialOut> PartialOut::CreateFile(const fs::path& out, mode_t mode, int* fd) {
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    std::string path = PartialSiblingName(out);
    *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (*fd >= 0) return PartialOut(std::move(path), out.string());
    if (errno != EEXIST) return Errno("cannot create a file beside " + out.string());
  }
  return ledger::Status::IOError("cannot create a file beside " + out.string() + ": every name tried was taken");
}

PartialOut::PartialOut(PartialOut&& other) noexcept
    : path_(std::exchange(other.path_, std::string())), out_(std::move(other.out_)) {}

PartialOut& PartialOut::operator=(PartialOut&& other) noexcept {
  if (this != &other) {
    PartialOut discarded(std::move(*this));  // removes what this held
    path_ = std::exchange(other.path_, std::string());
    out_ = std::move(other.out_);
  }
  return *this;
}

PartialOut::~PartialOut() {
  if (path_.empty()) return;
  std::error_code ec;  // best effort: a destructor has no one to tell
  fs::remove_all(path_, ec);
}

ledger::Status PartialOut::Publish() {
  LEDGER_RETURN_IF_ERROR(RenameWithoutReplacing(path_, out_));
  path_.clear();  // it is `out` now: nothing to remove
  // Best effort: the name is in place and cannot be taken back (a reader may already have
  // it open), so a directory sync that fails (a failing disk, which the next write shows)
  // does not turn a finished output into a failure.
  SyncDirectory(fs::path(out_).parent_path().string()).IgnoreError();
  return ledger::Status::Ok();
}

FdOut::~FdOut() {
  if (fd_ >= 0) ::close(fd_);
}

bool FdOut::Close() {
  if (fd_ < 0) return error_ == 0;
  if (Drain() && ::fsync(fd_) != 0 && error_ == 0) error_ = errno;
  if (::close(fd_) != 0 && error_ == 0) error_ = errno;
  fd_ = -1;
  return error_ == 0;
}

int FdOut::overflow(int c) {
  if (!Drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

bool FdOut::Drain() {
  if (error_ != 0) return false;
  for (const char* p = pbase(); p < pptr();) {
    const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
      return false;
    }
    p += n;
  }
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  return true;
}

}  // namespace replay
