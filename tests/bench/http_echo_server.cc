// The HTTP benchmark's baseline: a bare cpprestsdk listener that answers every request
// with its own body (the same library, thread pool and socket path as ledgerd's front,
// with no ledger behind it). Usage: http_echo_server --port N; runs until SIGTERM/SIGINT.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_listener.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace http = web::http;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
  if (port <= 0) {
    std::fprintf(stderr, "usage: http_echo_server --port N\n");
    return 2;
  }
  http::experimental::listener::http_listener listener("http://127.0.0.1:" + std::to_string(port));
  listener.support([](http::http_request req) {
    req.extract_vector().then([req](pplx::task<std::vector<unsigned char>> body) {
      http::http_response resp(http::status_codes::OK);
      try {
        resp.set_body(body.get());
      } catch (...) {
      }
      resp.headers().set_content_type("application/json");
      req.reply(resp).then([](pplx::task<void> t) {
        try { t.get(); } catch (...) {}
      });
    });
  });
  listener.open().wait();
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  while (!g_stop) ::usleep(100 * 1000);
  listener.close().wait();
  return 0;
}
