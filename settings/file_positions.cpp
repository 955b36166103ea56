#include "settings/file_positions.hpp"

#include <iterator>

#include <nlohmann/json.hpp>

namespace rc::settings {

namespace {

/// An input iterator over the text that publishes how far the lexer has read.
struct counting_iterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  const char* p = nullptr;
  const char** cursor = nullptr;

  reference operator*() const { return *p; }
  counting_iterator& operator++() {
    ++p;
    if (cursor) *cursor = p;
    return *this;
  }
  counting_iterator operator++(int) {
    auto old = *this;
    ++*this;
    return old;
  }
  bool operator==(const counting_iterator& o) const { return p == o.p; }
  bool operator!=(const counting_iterator& o) const { return p != o.p; }
};

/// Records top-level keys. When key() is called the lexer has just read the key's closing
/// quote, so the key starts at the previous unescaped quote.
struct key_sax : nlohmann::json_sax<nlohmann::json> {
  std::string_view text;
  const char* const* cursor;
  key_positions& out;
  int depth = 0;

  key_sax(std::string_view t, const char* const* c, key_positions& o)
      : text(t), cursor(c), out(o) {}

  std::size_t key_start() const {
    std::size_t end = static_cast<std::size_t>(*cursor - text.data());
    std::size_t i = end == 0 ? 0 : end - 1;  // closing quote
    while (i > 0) {
      --i;
      if (text[i] != '"') continue;
      std::size_t slashes = 0;
      for (std::size_t j = i; j > 0 && text[j - 1] == '\\'; --j) ++slashes;
      if (slashes % 2 == 0) return i;
    }
    return i;
  }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1) out.keys[k] = position_of(text, key_start());
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    out.syntax_error = position_of(text, pos == 0 ? 0 : pos - 1);
    out.syntax_message = ex.what();
    return false;
  }
};

}  // namespace

text_position position_of(std::string_view text, std::size_t offset) {
  text_position p{1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

key_positions scan_key_positions(std::string_view text) {
  key_positions out;
  const char* cursor = text.data();
  key_sax sax(text, &cursor, out);
  counting_iterator first{text.data(), &cursor};
  counting_iterator last{text.data() + text.size(), nullptr};
  nlohmann::json::sax_parse(first, last, &sax, nlohmann::json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/true);
  return out;
}

}  // namespace rc::settings
