#include "store/postgres/change_feed.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstring>
#include <optional>

#include "base/log.h"
#include "store/postgres/connection.h"
#include "store/postgres/statements.h"

namespace lrogate::store::postgres {

void ChangeFeed::start() {
  thread_ = std::thread([this] { run(); });
}

void ChangeFeed::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ChangeFeed::set_listener(OperationStore::ChangeListener fn) {
  MutexLock lock(mu_);
  listener_ = std::move(fn);
  if (listener_ && listening_) listener_(Change{Change::Kind::kListening, {}});
}

void ChangeFeed::deliver(Change c) {
  MutexLock lock(mu_);
  if (c.kind == Change::Kind::kListening) listening_ = true;
  if (c.kind == Change::Kind::kLost) listening_ = false;
  if (listener_) listener_(c);
}

void ChangeFeed::run() {
  using Clock = std::chrono::steady_clock;
  PGconn* conn = nullptr;
  Clock::time_point heard{};
  std::optional<Clock::time_point> probe_sent;
  auto nap = [this](int ms) {
    for (int i = 0; i < ms / 50 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  auto lose = [&](const char* what) {
    log::warn(what, {{"backend", "postgresql"}, {"detail", pg_message(conn)}});
    PQfinish(conn);
    conn = nullptr;
    deliver(Change{Change::Kind::kLost, {}});
  };
  while (!stop_) {
    if (!conn) {
      conn = connect(url_, "lrogate-listener");
      const std::string sql =
          std::string("LISTEN ") + kFinishedChannel + "; LISTEN " + kChangedChannel;
      PgResult r(PQexec(conn, sql.c_str()), &PQclear);
      if (PQstatus(conn) != CONNECTION_OK || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        log::warn("store listener cannot connect; retrying",
                  {{"backend", "postgresql"}, {"detail", pg_message(conn)}});
        PQfinish(conn);
        conn = nullptr;
        nap(1000);
        continue;
      }
      log::info("store listener listening", {{"backend", "postgresql"}});
      heard = Clock::now();
      probe_sent.reset();
      deliver(Change{Change::Kind::kListening, {}});
    }
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    int ready = ::poll(&pfd, 1, 200);
    if (ready < 0) continue;
    if (ready > 0) {
      if (PQconsumeInput(conn) == 0) {
        lose("store listener lost its connection");
        continue;
      }
      heard = Clock::now();
      // The probe's answer, once it is all in.
      while (probe_sent && !PQisBusy(conn)) {
        PGresult* res = PQgetResult(conn);
        if (!res) {
          probe_sent.reset();
          break;
        }
        PQclear(res);
      }
    }
    while (PGnotify* n = PQnotifies(conn)) {
      Change c{std::strcmp(n->relname, kFinishedChannel) == 0 ? Change::Kind::kFinished
                                                              : Change::Kind::kChanged,
               n->extra ? n->extra : ""};
      PQfreemem(n);
      if (!c.id.empty()) deliver(std::move(c));
    }
    auto now = Clock::now();
    if (probe_sent && now - *probe_sent > kProbeDeadline) {
      lose("store listener heard nothing from its connection; reconnecting");
    } else if (!probe_sent && now - heard > kProbeAfter) {
      if (PQsendQuery(conn, "SELECT 1") == 0) {
        lose("store listener lost its connection");
      } else {
        probe_sent = now;
      }
    }
  }
  if (conn) PQfinish(conn);
}

}  // namespace lrogate::store::postgres
