// The upstream pool file (--upstreams FILE; docs/upstream-pool.md): a TOML
// file naming the resources one gateway spreads its operations over, read
// into upstream::PoolSettings (upstream/pool_settings.h).
//
// load_pool is a pure read of the file, the files it names and the
// environment: no globals, nothing kept, safe on any thread (serve calls it
// at start and again on SIGHUP, on a worker thread). It blocks on file reads.
//
// Errors (kInvalidArgument) name the file, line and column, the resource (by
// name, else by its number) and the key; they never hold a secret's value.
#pragma once

#include "base/result.h"
#include "config/config.h"
#include "upstream/pool_settings.h"

namespace lrogate::config {

// The pool file's limits: its size, its resources, one secret file's size.
inline constexpr std::size_t kMaxPoolFile = std::size_t{1} << 20;
inline constexpr std::size_t kMaxPoolResources = 256;
inline constexpr std::size_t kMaxSecretFile = std::size_t{16} << 10;

// Without c.upstreams_file: the pool of one resource, kDefaultResource, made
// from c.upstream and c.auth (weight 1, priority 0, polls_per_second
// --upstream-rps, no other limit). With it: the file's resources, each
// starting from the flags' upstream and auth settings (c.upstream, c.auth),
// then the file's [defaults], then its own table; secrets read from the
// environment variables or files the file names.
Result<upstream::PoolSettings> load_pool(const ServeConfig& c);

}  // namespace lrogate::config
