#include "config/pool_file.h"

// toml::parse answers a parse_result: no exception leaves the library.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "base/duration.h"
#include "config/pool_secrets.h"
#include "config/values.h"
#include "upstream/upstream.h"

namespace lrogate::config {
namespace {

using upstream::ResourceSettings;

// The text of the file that an error may echo (names, kinds, keys):
// printable ASCII, at most 64 characters.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

const char* type_name(const toml::node& v) {
  switch (v.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

bool plain_id(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// An HTTP header name (RFC 9110 token), as the key header must be.
bool header_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// A resource as the layers leave it: the settings, and where its secrets
// are to be read from once the mode is known.
struct Draft {
  ResourceSettings r;
  bool has_endpoint = false;
  std::optional<SecretSource> key, client_secret;
  toml::source_region at;  // its [[resource]] table
};

// Reads one pool file; the first error found is kept and every step after
// it answers false.
class PoolReader {
 public:
  explicit PoolReader(const ServeConfig& c) : c_(c), file_(c.upstreams_file) {
    base_dir_ = std::filesystem::path(file_).parent_path().string();
  }

  Result<upstream::PoolSettings> read();

 private:
  bool fail(const toml::source_region& at, std::string_view key, const std::string& what) {
    if (error_) return false;
    std::string m =
        file_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column) + ": ";
    if (!scope_.empty()) m += scope_ + ": ";
    if (!key.empty()) m += std::string(key) + ": ";
    error_ = make_error(ErrorCode::kInvalidArgument, m + what);
    return false;
  }
  bool wrong_type(const toml::node& v, std::string_view key, const char* wanted) {
    return fail(v.source(), key,
                std::string("must be ") + wanted + " (found " + type_name(v) + ")");
  }

  std::optional<std::string> string(const toml::node& v, std::string_view key);
  std::optional<std::int64_t> integer(const toml::node& v, std::string_view key, std::int64_t lo,
                                      std::int64_t hi);
  std::optional<double> number(const toml::node& v, std::string_view key, double hi);

  bool resource(const toml::table& t, std::size_t index, const toml::table* defaults);
  bool layer(const toml::table& t, bool defaults, Draft* d);
  bool auth(const toml::table& t, Draft* d);
  bool secret_source(const toml::node& v, std::string_view key, std::optional<SecretSource>* to);
  bool limits(const toml::table& t, Draft* d);
  bool finish(Draft* d);
  bool secret(const SecretSource& s, std::string* to);

  const ServeConfig& c_;
  const std::string& file_;
  std::string base_dir_;  // relative secret files are read from the pool file's folder
  std::string scope_;     // "defaults", "resource 'eastus'", "resource #3"
  std::optional<Error> error_;
  upstream::PoolSettings pool_;
};

std::optional<std::string> PoolReader::string(const toml::node& v, std::string_view key) {
  if (!v.is_string()) return wrong_type(v, key, "a string"), std::nullopt;
  return v.as_string()->get();
}

std::optional<std::int64_t> PoolReader::integer(const toml::node& v, std::string_view key,
                                                std::int64_t lo, std::int64_t hi) {
  auto range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.is_integer()) return wrong_type(v, key, ("an integer " + range).c_str()), std::nullopt;
  std::int64_t n = v.as_integer()->get();
  if (n < lo || n > hi) {
    return fail(v.source(), key, "must be " + range + " (found " + std::to_string(n) + ")"),
           std::nullopt;
  }
  return n;
}

std::optional<double> PoolReader::number(const toml::node& v, std::string_view key, double hi) {
  double n = 0;
  if (v.is_integer()) {
    n = static_cast<double>(v.as_integer()->get());
  } else if (v.is_floating_point()) {
    n = v.as_floating_point()->get();
  } else {
    return wrong_type(v, key, "a number"), std::nullopt;
  }
  if (!std::isfinite(n) || n < 0 || n > hi) {
    return fail(v.source(), key,
                "must be a number from 0 (no limit) to " +
                    std::to_string(static_cast<std::int64_t>(hi))),
           std::nullopt;
  }
  return n;
}

Result<upstream::PoolSettings> PoolReader::read() {
  auto text = read_small_file(file_, kMaxPoolFile);
  if (!text) return make_error(ErrorCode::kInvalidArgument, file_ + ": " + text.error().message);
  toml::parse_result doc = toml::parse(text.value(), file_);
  if (!doc) {
    const auto& e = doc.error();
    return make_error(ErrorCode::kInvalidArgument, file_ + ":" +
                                                       std::to_string(e.source().begin.line) + ":" +
                                                       std::to_string(e.source().begin.column) +
                                                       ": " + std::string(e.description()));
  }
  const toml::table& top = doc.table();
  const toml::table* defaults = nullptr;
  const toml::array* resources = nullptr;
  toml::source_region top_at;
  top_at.begin = {1, 1};
  for (auto&& [k, v] : top) {
    if (k.str() == "defaults") {
      defaults = v.as_table();
      if (!defaults) return wrong_type(v, "defaults", "a table: [defaults]"), *error_;
    } else if (k.str() == "resource") {
      resources = v.as_array();
      if (!resources || !resources->is_array_of_tables()) {
        return wrong_type(v, "resource", "an array of tables: [[resource]]"), *error_;
      }
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(k.str()) + "' (known: defaults, resource)"),
             *error_;
    }
  }
  if (!resources || resources->empty()) {
    return fail(top_at, "", "no resources: add at least one [[resource]] table"), *error_;
  }
  if (resources->size() > kMaxPoolResources) {
    return fail((*resources)[kMaxPoolResources].source(), "",
                "more than " + std::to_string(kMaxPoolResources) + " resources"),
           *error_;
  }
  if (defaults) {
    scope_ = "defaults";
    Draft scratch;  // checks [defaults] once, on its own: its errors name it
    if (!layer(*defaults, true, &scratch)) return *error_;
  }
  for (std::size_t i = 0; i < resources->size(); ++i) {
    if (!resource(*(*resources)[i].as_table(), i + 1, defaults)) return *error_;
  }
  return std::move(pool_);
}

bool PoolReader::resource(const toml::table& t, std::size_t index, const toml::table* defaults) {
  scope_ = "resource #" + std::to_string(index);
  Draft d;
  d.at = t.source();
  d.r.upstream = c_.upstream;
  d.r.auth = upstream::AuthSettings{};
  d.r.auth.authority = c_.auth.authority;
  d.r.auth.scope = c_.auth.scope;
  d.r.auth.imds_endpoint = c_.auth.imds_endpoint;
  d.r.auth.identity_endpoint = c_.auth.identity_endpoint;
  d.r.auth.identity_header = c_.auth.identity_header;
  d.r.auth.timeout = c_.auth.timeout;
  const toml::node* name = t.get("name");
  if (!name) return fail(d.at, "name", "is required");
  auto n = string(*name, "name");
  if (!n) return false;
  if (!upstream::valid_resource_name(*n)) {
    return fail(name->source(), "name", "'" + shown(*n) + "' is not 1-64 of A-Z a-z 0-9 . _ -");
  }
  for (const auto& other : pool_.resources) {
    if (other.name == *n) return fail(name->source(), "name", "'" + *n + "' names two resources");
  }
  d.r.name = *n;
  scope_ = "resource '" + *n + "'";
  if (defaults) {
    // [defaults] was checked alone; applied here, it cannot fail.
    std::string scope = scope_;
    scope_ = "defaults";
    if (!layer(*defaults, true, &d)) return false;
    scope_ = scope;
  }
  if (!layer(t, false, &d) || !finish(&d)) return false;
  if (!pool_.resources.empty() && pool_.resources.front().upstream.kind != d.r.upstream.kind) {
    return fail(d.at, "kind",
                "'" + d.r.upstream.kind + "' differs from resource '" +
                    pool_.resources.front().name + "' (" + pool_.resources.front().upstream.kind +
                    "): one pool fronts one kind of service");
  }
  pool_.resources.push_back(std::move(d.r));
  return true;
}

bool PoolReader::layer(const toml::table& t, bool defaults, Draft* d) {
  upstream::Settings& u = d->r.upstream;
  for (auto&& [k, v] : t) {
    std::string_view key = k.str();
    if (key == "name" || key == "endpoint") {
      if (defaults) return fail(k.source(), key, "belongs in each [[resource]], not in [defaults]");
      if (key == "name") continue;  // read first, by resource()
      auto e = string(v, key);
      if (!e) return false;
      while (!e->empty() && e->back() == '/') e->pop_back();
      if (!valid_base_url(*e)) {
        return fail(v.source(), key,
                    "must be an absolute http(s) URL without user info, query or fragment, e.g. "
                    "https://eastus.api.cognitive.microsoft.com");
      }
      u.endpoint = *e;
      d->has_endpoint = true;
    } else if (key == "kind") {
      auto kind = string(v, key);
      if (!kind) return false;
      auto kinds = upstream::upstream_kinds();
      if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) {
        std::string known;
        for (const auto& k2 : kinds) known += (known.empty() ? "" : ", ") + k2;
        return fail(v.source(), key, "unknown kind '" + shown(*kind) + "' (known: " + known + ")");
      }
      u.kind = *kind;
    } else if (key == "api_version") {
      auto version = string(v, key);
      if (!version) return false;
      if (auto ok = check_api_version(*version); !ok) {
        return fail(v.source(), key, ok.error().message);
      }
      u.api_version = *version;
    } else if (key == "timeout") {
      auto text = string(v, key);
      if (!text) return false;
      auto t2 = parse_duration(*text);
      if (!t2) return fail(v.source(), key, t2.error().message);
      if (t2->count() <= 0) return fail(v.source(), key, "must be positive");
      u.timeout = *t2;
    } else if (key == "weight" || key == "priority") {
      auto n = integer(v, key, key == "weight" ? 1 : 0, 1000);
      if (!n) return false;
      (key == "weight" ? d->r.weight : d->r.priority) = static_cast<int>(*n);
    } else if (key == "drain") {
      if (!v.is_boolean()) return wrong_type(v, key, "true or false");
      d->r.drain = v.as_boolean()->get();
    } else if (key == "auth" || key == "limits") {
      const toml::table* sub = v.as_table();
      if (!sub) return wrong_type(v, key, "a table");
      if (!(key == "auth" ? auth(*sub, d) : limits(*sub, d))) return false;
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(key) +
                      "' (known: name, endpoint, kind, api_version, timeout, weight, priority, "
                      "drain, auth, limits)");
    }
  }
  return true;
}

bool PoolReader::auth(const toml::table& t, Draft* d) {
  upstream::AuthSettings& a = d->r.auth;
  for (auto&& [k, v] : t) {
    std::string_view name = k.str();
    std::string key = "auth." + std::string(name);
    if (name == "key" || name == "client_secret") {
      // Refused before its value is looked at: the value is never echoed.
      return fail(k.source(), key,
                  "a secret is never written in the file: use " + std::string(name) + "_env or " +
                      std::string(name) + "_file");
    }
    if (name == "identity_header") {
      return fail(k.source(), key,
                  "a secret is never written in the file: it comes from IDENTITY_HEADER in the "
                  "environment");
    }
    if (name == "key_env" || name == "key_file" || name == "client_secret_env" ||
        name == "client_secret_file") {
      bool is_key = name.rfind("key_", 0) == 0;
      std::string_view other = name == "key_env"             ? "key_file"
                               : name == "key_file"          ? "key_env"
                               : name == "client_secret_env" ? "client_secret_file"
                                                             : "client_secret_env";
      if (t.contains(other)) {
        return fail(k.source(), key,
                    "set " + std::string(name) + " or " + std::string(other) + ", not both");
      }
      if (!secret_source(v, key, is_key ? &d->key : &d->client_secret)) return false;
      continue;
    }
    auto s = string(v, key);
    if (!s) return false;
    if (name == "mode") {
      if (*s != "key" && *s != "client-credentials" && *s != "managed-identity") {
        return fail(v.source(), key,
                    "'" + shown(*s) + "' is not key, client-credentials or managed-identity");
      }
      a.mode = *s;
    } else if (name == "key_header") {
      if (!header_name(*s)) return fail(v.source(), key, "must be an HTTP header name");
      a.key_header = *s;
    } else if (name == "tenant_id" || name == "client_id") {
      // "" allowed: a resource may clear [defaults]' client_id (a system-assigned identity).
      if (!s->empty() && !plain_id(*s)) {
        return fail(v.source(), key, "must be an id: 1-128 of A-Z a-z 0-9 - . _");
      }
      (name == "tenant_id" ? a.tenant_id : a.client_id) = *s;
    } else if (name == "authority") {
      while (!s->empty() && s->back() == '/') s->pop_back();
      if (!https_or_loopback(*s)) {
        return fail(v.source(), key, "must be an https URL (plain http only on loopback)");
      }
      a.authority = *s;
    } else if (name == "scope") {
      bool printable =
          std::all_of(s->begin(), s->end(), [](char c) { return c > 0x20 && c < 0x7f; });
      if (s->empty() || s->size() > 512 || !printable) {
        return fail(v.source(), key, "must be 1-512 printable characters without spaces");
      }
      a.scope = *s;
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(key) +
                      "' (known in auth: mode, key_env, key_file, key_header, tenant_id, "
                      "client_id, client_secret_env, client_secret_file, authority, scope)");
    }
  }
  return true;
}

bool PoolReader::secret_source(const toml::node& v, std::string_view key,
                               std::optional<SecretSource>* to) {
  auto s = string(v, key);
  if (!s) return false;
  SecretSource src;
  src.key = std::string(key);
  src.line = v.source().begin.line;
  src.column = v.source().begin.column;
  if (key.size() > 4 && key.substr(key.size() - 4) == "_env") {
    if (!valid_env_name(*s)) {
      return fail(v.source(), key, "must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)");
    }
    src.env = *s;
  } else {
    if (s->empty() || s->size() > 4096 || s->find('\0') != std::string::npos) {
      return fail(v.source(), key, "must be a file's path (1-4096 characters)");
    }
    std::filesystem::path p(*s);
    src.file = p.is_absolute() || base_dir_.empty() ? *s : (base_dir_ / p).string();
  }
  *to = std::move(src);
  return true;
}

bool PoolReader::limits(const toml::table& t, Draft* d) {
  upstream::ResourceLimits& l = d->r.limits;
  for (auto&& [k, v] : t) {
    std::string_view name = k.str();
    std::string key = "limits." + std::string(name);
    if (name == "submits_per_second" || name == "polls_per_second") {
      auto n = number(v, key, 1e6);
      if (!n) return false;
      (name == "submits_per_second" ? l.submits_per_second : l.polls_per_second) = *n;
    } else if (name == "operations_per_minute") {
      auto n = integer(v, key, 0, 1'000'000);
      if (!n) return false;
      l.operations_per_minute = static_cast<int>(*n);
    } else if (name == "calls_in_flight") {
      auto n = integer(v, key, 0, 100'000);
      if (!n) return false;
      l.calls_in_flight = static_cast<int>(*n);
    } else {
      return fail(k.source(), "",
                  "unknown key '" + shown(key) +
                      "' (known in limits: submits_per_second, polls_per_second, "
                      "operations_per_minute, calls_in_flight)");
    }
  }
  return true;
}

// What no single key shows: the endpoint given, the mode's ids and secrets
// present (read now, those of the mode only), the timeout within --lease.
bool PoolReader::finish(Draft* d) {
  upstream::AuthSettings& a = d->r.auth;
  if (!d->has_endpoint) return fail(d->at, "endpoint", "is required");
  const milliseconds timeout = d->r.upstream.timeout;
  if (c_.poller.lease.count() < timeout.count() + 1000) {
    return fail(d->at, "timeout",
                format_duration(timeout) + " must stay at least 1s below --lease (" +
                    format_duration(c_.poller.lease) + ")");
  }
  a.timeout = std::min(timeout, milliseconds(10'000));  // as parse() does for the flags
  if (a.mode == "key") {
    if (!d->key) return fail(d->at, "auth", "mode key needs key_env or key_file");
    return secret(*d->key, &a.key);
  }
  if (a.mode == "client-credentials") {
    if (a.tenant_id.empty())
      return fail(d->at, "auth.tenant_id", "is required with client-credentials");
    if (a.client_id.empty())
      return fail(d->at, "auth.client_id", "is required with client-credentials");
    if (!d->client_secret) {
      return fail(d->at, "auth",
                  "client-credentials needs client_secret_env or client_secret_file");
    }
    return secret(*d->client_secret, &a.client_secret);
  }
  return true;  // managed-identity: IDENTITY_ENDPOINT/IDENTITY_HEADER or IMDS, from the flags
}

bool PoolReader::secret(const SecretSource& s, std::string* to) {
  auto value = read_secret(s);
  if (!value) {
    toml::source_region at;
    at.begin = {s.line, s.column};
    return fail(at, s.key, value.error().message);
  }
  *to = std::move(value.value());
  return true;
}

}  // namespace

Result<upstream::PoolSettings> load_pool(const ServeConfig& c) {
  if (c.upstreams_file.empty()) {
    ResourceSettings r;
    r.name = std::string(upstream::kDefaultResource);
    r.upstream = c.upstream;
    r.auth = c.auth;
    r.limits.polls_per_second = c.poller.upstream_rps;
    upstream::PoolSettings pool;
    pool.resources.push_back(std::move(r));
    return pool;
  }
  return PoolReader(c).read();
}

}  // namespace lrogate::config
