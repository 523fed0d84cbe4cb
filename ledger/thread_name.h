// Names the calling thread as `top -H`, perf and /proc show it (at most 15 characters),
// so a profile of the node says which stage a thread is. Best effort.
#pragma once

#include <pthread.h>

namespace ledger {

inline void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace ledger
