// Making a file's name durable: after a create or rename, the directory that holds it must
// be synced too, or a crash can forget the name although the file's bytes were synced.
#pragma once

#include <filesystem>

namespace ledger {

// Syncs the directory holding `path` (best effort: a directory that cannot be opened is
// left as it is; the caller has already synced the file itself).
void SyncParentDirectory(const std::filesystem::path& path);

}  // namespace ledger
