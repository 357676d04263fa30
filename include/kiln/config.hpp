// kiln's configuration: one registry of named flags, each with a default, a doc string and a
// validator, filled at start-up from ~/.kilnrc (or the files listed in $KILNRC) and then from
// $KILN_FLAGS, exactly as Theano does with .theanorc and THEANO_FLAGS:
//
//   KILN_FLAGS="floatX=float32,allow_gc=False"      (comma-separated; later entries win)
//   ~/.kilnrc:  [global]                              ('a.b' keys live in section [a], key b)
//               floatX = float32
//
// The environment overrides the rc files, which override the defaults.
#pragma once

#include <string>
#include <vector>

#include "kiln/runtime/dtype.hpp"

namespace kiln {

struct ConfigFlag {
  std::string name;
  std::string doc;
  std::string default_value;
  std::vector<std::string> allowed;  // empty: any string (or a bool, for bool flags)
  bool is_bool = false;
};

class Config {
 public:
  /// The process-wide configuration (initialised on first use from the environment).
  static Config& get();

  /// The value of a flag as a string. Throws ValueError for an unknown flag.
  std::string value(const std::string& name) const;
  /// Set a flag, validating the value. Throws ValueError naming the flag and the valid options.
  void set(const std::string& name, const std::string& value);
  bool get_bool(const std::string& name) const;
  /// All flags, in registration order.
  const std::vector<ConfigFlag>& flags() const { return flags_; }
  /// A listing of every flag with its value and meaning (what print(kiln.config) shows).
  std::string describe() const;

  /// Fast accessors for flags read on hot paths.
  DType floatX() const { return floatX_; }
  bool allow_gc() const { return allow_gc_; }

  /// Re-read KILNRC files and KILN_FLAGS (used at start-up and by tests).
  void load_from_environment();
  /// Parse a KILN_FLAGS-style string and apply it.
  void apply_flags_string(const std::string& flags);
  /// Parse an rc file's text and apply it.
  void apply_rc_text(const std::string& text, const std::string& origin);

 private:
  Config();
  void add(ConfigFlag flag);
  void refresh_cache();
  std::vector<ConfigFlag> flags_;
  std::vector<std::string> values_;
  DType floatX_ = DType::Float64;
  bool allow_gc_ = true;
};

/// Shortcut for Config::get().floatX().
inline DType floatX() { return Config::get().floatX(); }

}  // namespace kiln
