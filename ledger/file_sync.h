// Making a file's name durable: after a create or rename, the directory that holds it must
// be synced too, or a crash can forget the name although the file's bytes were synced.
#pragma once

#include <filesystem>
#include <string>

#include "ledger/status.h"

namespace ledger {

// Syncs the directory holding `path` (best effort: a directory that cannot be opened is
// left as it is; the caller has already synced the file itself).
void SyncParentDirectory(const std::filesystem::path& path);

// A secret's file: written whole into a new file of mode 0600 (never readable by others,
// not even for an instant; O_EXCL|O_NOFOLLOW, so no earlier file or link is reused), synced,
// then renamed into place and the directory synced. `exclusive`: an existing file at `path`
// is never replaced (the rename itself refuses to, so two writers cannot both win).
// Errors: IOError "<name> exists" for an exclusive write onto an existing file, else
// IOError; messages name the file, never its content.
Status WriteSecretFile(const std::filesystem::path& path, const std::string& content, bool exclusive);

}  // namespace ledger
