// The embedded SQLite backend (WAL). One process owns a database file: a
// second process opening it gets a clear error (an advisory lock), which is
// what makes releasing every lease at start-up safe.
#pragma once

#include <memory>
#include <string>

#include "store/operation_store.h"

namespace lrogate::store::sqlite {

struct Options {
  // Concurrent inserts share one transaction (see insert() in
  // sqlite_store.cpp); off only to measure what it buys (bench/store_insert.cpp).
  bool group_commit = true;
};

Result<std::unique_ptr<OperationStore>> open(const std::string& path, const Options& options = {});

}  // namespace lrogate::store::sqlite
