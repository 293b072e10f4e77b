// The embedded SQLite backend (WAL). One process owns a database file: a
// second process opening it gets a clear error (an advisory lock), which is
// what makes releasing every lease at start-up safe.
#pragma once

#include <memory>
#include <string>

#include "store/operation_store.h"

namespace lrogate::store::sqlite {

Result<std::unique_ptr<OperationStore>> open(const std::string& path);

}  // namespace lrogate::store::sqlite
