// Child processes and loopback HTTP for system tests: start a binary, stop it by PID,
// pick a free 127.0.0.1 port, send one HTTP/1.1 request.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace testing_support {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int FreeLoopbackPort();

class ChildProcess {
 public:
  // Starts `binary` with `args`; stdout and stderr go to `log_path`.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path);
  ~ChildProcess();  // SIGKILLs the child if it still runs
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits up to timeout_ms; returns the wait status, or -1 on timeout.
  int StopWith(int sig, int timeout_ms);

 private:
  pid_t pid_ = -1;
};

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string headers;
  std::string body;
};

HttpReply HttpGet(int port, const std::string& path, int timeout_ms = 2000);
HttpReply HttpCall(int port, const std::string& method, const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                   int timeout_ms = 5000);

// A response header's value (case-insensitive name; "" when absent).
std::string HeaderValue(const HttpReply& r, const std::string& name);

// Runs `command_line` through the shell; its stdout and exit code (-1: did not exit).
struct CommandRun {
  int exit_code = -1;
  std::string out;
};
CommandRun RunCommand(const std::string& command_line);

// Every regular file under `dir` (recursively), concatenated: for scans that a secret or a
// personal value is nowhere on the disk.
std::string AllFileBytes(const std::string& dir);

// The whole file at `path` ("" when it cannot be read).
std::string ReadAll(const std::string& path);

// The first admin key a new writer wrote to DATA/admin.key ("" when there is none).
std::string ReadAdminKey(const std::string& data_dir);

// `ledgerd dev-broker` as a child process writing under `dir` (bootstrap file, log);
// `bootstrap` is its address, "" when it did not come up within 15 s.
struct DevBroker {
  DevBroker(const std::string& ledgerd, const std::string& dir);
  ChildProcess process;
  std::string bootstrap;
};

// The first line of the file at `path` once it exists and has one; "" after timeout_ms.
std::string WaitForFileLine(const std::string& path, int timeout_ms);

// Polls GET path until it answers `want_status` or timeout_ms passes.
bool WaitForStatus(int port, const std::string& path, int want_status, int timeout_ms);

}  // namespace testing_support
