// http::Client's per-origin connection cap, its waiting line and deadline,
// the shared body, and idle connections closed by their peer, against a
// small blocking HTTP/1.1 server on a loopback port (plain sockets, one
// thread per connection: no Asio in the test).
#include "http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace lrogate::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

class TestServer {
 public:
  struct Options {
    milliseconds delay{0};     // before each answer
    bool close_after = false;  // answer "Connection: close" and close
  };

  explicit TestServer(Options opt) : opt_(opt) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 128);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] { accept_loop(); });
  }

  ~TestServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    accepter_.join();
    close_all();
    for (auto& t : sessions_) t.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  int accepted() const { return accepted_; }
  int max_open() const { return max_open_; }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }
  // The server's side of every connection closes (the client sees a FIN).
  void close_all() {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted_;
      int now = ++open_;
      int seen = max_open_;
      while (now > seen && !max_open_.compare_exchange_weak(seen, now)) {
      }
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      sessions_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return finish(fd);
        in.append(buf, static_cast<std::size_t>(n));
      }
      std::string head = in.substr(0, end);
      std::transform(head.begin(), head.end(), head.begin(), ::tolower);
      std::size_t length = 0;
      if (auto at = head.find("content-length:"); at != std::string::npos) {
        length = std::stoul(head.substr(at + 15));
      }
      while (in.size() < end + 4 + length) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return finish(fd);
        in.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        last_body_ = in.substr(end + 4, length);
      }
      in.erase(0, end + 4 + length);
      std::this_thread::sleep_for(opt_.delay);
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
      out += opt_.close_after ? "Connection: close\r\n\r\nok" : "\r\nok";
      // Counted closed before the client can read the answer and open the next.
      if (opt_.close_after) --open_;
      ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (opt_.close_after) return finish(fd, false);
    }
  }

  void finish(int fd, bool count = true) {
    if (count) --open_;
    // The fd stays open (and listed) until the server goes: no reuse races.
    ::shutdown(fd, SHUT_RDWR);
  }

  Options opt_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  std::mutex mu_;
  std::vector<int> fds_;               // guarded by mu_
  std::vector<std::thread> sessions_;  // guarded by mu_
  std::string last_body_;              // guarded by mu_
  std::thread accepter_;
};

std::unique_ptr<Client> make_client(std::size_t cap, std::size_t waiters = 10'000) {
  ClientOptions o;
  o.max_connections_per_origin = cap;
  o.max_waiters_per_origin = waiters;
  auto c = Client::create(o);
  EXPECT_TRUE(c.ok());
  return std::move(c.value());
}

ClientRequest get(int port, milliseconds timeout = 10s) {
  ClientRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  r.timeout = timeout;
  return r;
}

std::future<ClientResult> start(Client& c, ClientRequest r) {
  auto p = std::make_shared<std::promise<ClientResult>>();
  auto f = p->get_future();
  c.send(std::move(r), [p](ClientResult res) { p->set_value(std::move(res)); });
  return f;
}

// Sockets of this process (the server's too) towards `port` in CLOSE_WAIT.
int close_wait_towards(int port) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);
  int n = 0;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    std::string slot, local, remote, state;
    s >> slot >> local >> remote >> state;
    int rport = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
    if (rport == port && state == "08") ++n;
  }
  return n;
}

TEST(Client, CapsConnectionsPerOriginAndHandsThemToWaiters) {
  TestServer server({.delay = 100ms});
  auto client = make_client(2);
  std::vector<std::future<ClientResult>> calls;
  for (int i = 0; i < 10; ++i) calls.push_back(start(*client, get(server.port())));
  for (auto& f : calls) {
    ClientResult r = f.get();
    ASSERT_TRUE(r.response) << r.error;
    EXPECT_EQ(r.response->status, 200);
  }
  EXPECT_EQ(server.max_open(), 2);
  EXPECT_EQ(server.accepted(), 2);  // reusable connections go straight to the next in line
}

TEST(Client, TheWaitForAConnectionCountsAgainstTheDeadline) {
  TestServer server({.delay = 600ms});
  auto client = make_client(1);
  auto first = start(*client, get(server.port()));
  auto t0 = std::chrono::steady_clock::now();
  ClientResult second = start(*client, get(server.port(), 150ms)).get();
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(second.failure, FailureKind::kTimeout);
  EXPECT_NE(second.error.find("waiting for a free connection"), std::string::npos) << second.error;
  EXPECT_LT(waited, 500ms);
  EXPECT_TRUE(first.get().response);
  EXPECT_TRUE(start(*client, get(server.port())).get().response);  // its slot was not lost
  EXPECT_EQ(server.accepted(), 1);
}

TEST(Client, FailsAtOnceWhenTooManyWait) {
  TestServer server({.delay = 300ms});
  auto client = make_client(1, 1);
  auto first = start(*client, get(server.port()));
  auto second = start(*client, get(server.port()));
  ClientResult third = start(*client, get(server.port())).get();
  EXPECT_EQ(third.failure, FailureKind::kConnect);
  EXPECT_NE(third.error.find("too many calls waiting"), std::string::npos) << third.error;
  EXPECT_EQ(second.wait_for(0s), std::future_status::timeout);  // still in line
  EXPECT_TRUE(first.get().response);
  EXPECT_TRUE(second.get().response);
}

TEST(Client, AClosedConnectionLetsTheNextInLineOpenOne) {
  TestServer server({.delay = 50ms, .close_after = true});
  auto client = make_client(1);
  std::vector<std::future<ClientResult>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(start(*client, get(server.port())));
  for (auto& f : calls) EXPECT_TRUE(f.get().response);
  EXPECT_EQ(server.accepted(), 4);
  EXPECT_EQ(server.max_open(), 1);
}

TEST(Client, FailuresGiveTheirSlotBack) {
  {
    TestServer slow({.delay = 400ms});
    auto client = make_client(1);
    EXPECT_EQ(start(*client, get(slow.port(), 100ms)).get().failure, FailureKind::kTimeout);
    EXPECT_TRUE(start(*client, get(slow.port())).get().response);
  }
  int closed_port;
  {
    TestServer gone({});
    closed_port = gone.port();
  }
  auto client = make_client(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(start(*client, get(closed_port, 2s)).get().failure, FailureKind::kConnect);
  }
}

TEST(Client, SendsTheSharedBody) {
  TestServer server({});
  auto client = make_client(4);
  ClientRequest r = get(server.port());
  r.method = "POST";
  r.body = "not this";
  r.shared_body = std::make_shared<const std::string>(std::string(100'000, 'b') + "end");
  ClientResult res = start(*client, r).get();
  ASSERT_TRUE(res.response) << res.error;
  EXPECT_EQ(server.last_body(), *r.shared_body);
  r.shared_body = nullptr;
  ASSERT_TRUE(start(*client, r).get().response);
  EXPECT_EQ(server.last_body(), "not this");
}

TEST(Client, ClosesAnIdleConnectionAsSoonAsThePeerDoes) {
  TestServer server({});
  auto client = make_client(1);
  ASSERT_TRUE(start(*client, get(server.port())).get().response);
  server.close_all();
  auto until = std::chrono::steady_clock::now() + 2s;
  while (close_wait_towards(server.port()) > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(close_wait_towards(server.port()), 0);
  // Its slot is free again: the only one, so a leak would time this out.
  EXPECT_TRUE(start(*client, get(server.port(), 2s)).get().response);
  EXPECT_EQ(server.accepted(), 2);
}

TEST(Client, ShutdownWithCallsInFlightAndInLine) {
  TestServer server({.delay = 300ms});
  auto client = make_client(1);
  std::vector<std::future<ClientResult>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(start(*client, get(server.port())));
  std::this_thread::sleep_for(50ms);
  client.reset();  // pending callbacks are dropped; nothing leaks or crashes
  for (auto& f : calls) EXPECT_EQ(f.wait_for(0s), std::future_status::ready);
}

}  // namespace
}  // namespace lrogate::http
