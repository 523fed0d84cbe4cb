#include "ledger/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

namespace ledger {

void SyncParentDirectory(const std::filesystem::path& path) {
  const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
  if (int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace ledger
