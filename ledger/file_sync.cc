#include "ledger/file_sync.h"

#include <fcntl.h>

#include <cerrno>
#include <stdio.h>
#include <unistd.h>

namespace ledger {

void SyncParentDirectory(const std::filesystem::path& path) {
  const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
  if (int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

Status WriteSecretFile(const std::filesystem::path& path, const std::string& content, bool exclusive) {
  const std::string name = path.filename().string();
  std::error_code ec;
  if (exclusive && std::filesystem::exists(path, ec)) return Status::IOError(name + " exists");
  const std::filesystem::path staging = path.string() + ".writing";
  std::filesystem::remove(staging, ec);  // left by a start that died
  int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + name);
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  const int renamed = !written ? -1
                      : exclusive ? ::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE)
                                  : ::rename(staging.c_str(), path.c_str());
  if (renamed != 0) {
    const bool existed = written && errno == EEXIST;
    std::filesystem::remove(staging, ec);
    return Status::IOError(existed ? name + " exists" : "cannot write " + name);
  }
  SyncParentDirectory(path);  // the new name survives a crash too
  return Status::Ok();
}

}  // namespace ledger
