// The parameters of one PostgreSQL statement, as libpq takes them: values
// as text (numbers in decimal, arrays as literals), a body as bytes.
// Empty strings and empty optionals go as NULL, as the SQLite store binds
// them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrogate::store::postgres {

class Params {
 public:
  Params& text(std::string_view v) {
    if (v.empty()) return null();
    return add(std::string(v), 0);
  }
  // Text as given, the empty string too (text() makes it NULL).
  Params& text_or_empty(std::string_view v) { return add(std::string(v), 0); }
  Params& bytes(std::string_view v) {
    if (v.empty()) return null();
    return add(std::string(v), 1);
  }
  Params& num(std::int64_t v) { return add(std::to_string(v), 0); }
  Params& num(std::optional<std::int64_t> v) { return v ? num(*v) : null(); }
  Params& null() {
    storage_.emplace_back();
    null_.push_back(true);
    formats_.push_back(0);
    return *this;
  }
  // A text[] literal: {"a","b"} with quotes and backslashes escaped.
  Params& text_array(const std::vector<std::string>& items) {
    std::string lit = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += '"';
      for (char c : items[i]) {
        if (c == '"' || c == '\\') lit += '\\';
        lit += c;
      }
      lit += '"';
    }
    lit += '}';
    return add(std::move(lit), 0);
  }

  // A bytea[] literal, each element in hex ({"\\x6869",...}): bytes of any
  // value, the empty one an empty bytea (not NULL).
  Params& bytes_array(const std::vector<std::string_view>& items) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t n = 2;
    for (auto item : items) n += 6 + 2 * item.size();
    std::string lit;
    lit.reserve(n);
    lit += '{';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += "\"\\\\x";
      for (unsigned char c : items[i]) {
        lit += kHex[c >> 4];
        lit += kHex[c & 15];
      }
      lit += '"';
    }
    lit += '}';
    return add(std::move(lit), 0);
  }

  // A bigint[]/int[] literal: {1,2,3}.
  Params& num_array(const std::vector<std::int64_t>& items) {
    std::string lit = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += std::to_string(items[i]);
    }
    lit += '}';
    return add(std::move(lit), 0);
  }

  int size() const { return static_cast<int>(storage_.size()); }
  // Pointers into storage_: valid until the Params changes.
  void view(std::vector<const char*>* values, std::vector<int>* lengths) const {
    values->clear();
    lengths->clear();
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      values->push_back(null_[i] ? nullptr : storage_[i].data());
      lengths->push_back(static_cast<int>(storage_[i].size()));
    }
  }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(std::string v, int format) {
    storage_.push_back(std::move(v));
    null_.push_back(false);
    formats_.push_back(format);
    return *this;
  }
  std::vector<std::string> storage_;
  std::vector<bool> null_;
  std::vector<int> formats_;
};

}  // namespace lrogate::store::postgres
