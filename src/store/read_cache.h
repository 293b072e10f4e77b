// ReadCache: keeps recently read records in memory in front of a store that
// only this process writes (OperationStore::exclusive(), i.e. SQLite), so a
// status poll of a known operation costs a hash lookup instead of a read
// transaction. Every write that goes through it drops the records it touches
// (after the write, with a generation counter so a read that raced a write
// never puts the older record back). Bounded: past max_entries records or
// max_bytes of result bodies it starts over empty.
#pragma once

#include <memory>

#include "store/operation_store.h"

namespace lrogate::store {

struct ReadCacheLimits {
  std::size_t max_entries = 16'384;
  std::size_t max_bytes = 64u << 20;
};

std::unique_ptr<OperationStore> with_read_cache(std::unique_ptr<OperationStore> inner,
                                                ReadCacheLimits limits = {});

}  // namespace lrogate::store
