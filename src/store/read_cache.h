// ReadCache: keeps recently read records in memory in front of a store, so a
// status poll of a known operation costs a hash lookup instead of a read
// transaction (docs/design.md, "The read cache").
//
// Coherence. Every write that goes through the cache drops the records it
// touches, after the write. In front of a store only this process writes
// (OperationStore::exclusive(), SQLite) that is the whole story. In front of
// a shared store (PostgreSQL) the other replicas' writes arrive as Changes
// (LISTEN/NOTIFY), and each drops its record before it is passed on, so a
// long-poll woken by a completion never reads the record from before it.
// The cache answers only while that feed runs: it starts empty and unused,
// fills once the store says kListening, and empties and stops at kLost, so
// no answer older than the feed survives a lost notification.
//
// A read that raced a write never puts the older record back: a miss leaves
// a pending entry with a token; the write, or the Change, erases it, and the
// read's record is kept only if its own pending entry is still there.
// Bounded: past max_entries records or max_bytes of result bodies it starts
// over empty.
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
