#include "kiln/config.hpp"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln {
namespace {

std::mutex g_config_mutex;

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool parse_bool(const std::string& name, const std::string& v) {
  if (v == "True" || v == "true" || v == "1") return true;
  if (v == "False" || v == "false" || v == "0") return false;
  KILN_THROW(ValueError) << "invalid value (\"" << v << "\") for configuration flag \"" << name
                         << "\": expected True or False";
}

std::string default_compiledir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/kiln";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/kiln";
}

}  // namespace

Config& Config::get() {
  static Config* config = [] {
    auto* c = new Config();
    c->load_from_environment();
    return c;
  }();
  return *config;
}

Config::Config() {
  add({"floatX", "Default float dtype: of T.matrix() etc., of Python float constants and of integer true division.",
       "float64", {"float64", "float32"}});
  add({"mode", "Default compilation mode of kiln.function (NONE: no rewrites, for debugging).", "FAST_RUN",
       {"FAST_RUN", "FAST_COMPILE", "DebugMode", "NanGuardMode", "NONE"}});
  add({"profile", "Profile every compiled function (as profile=True) and print the summaries at exit.", "False", {}, true});
  add({"NanGuardMode__nan_is_error", "NanGuardMode: raise at the first node that outputs NaN.", "True", {}, true});
  add({"NanGuardMode__inf_is_error", "NanGuardMode: raise at the first node that outputs inf.", "True", {}, true});
  add({"NanGuardMode__big_is_error", "NanGuardMode: raise at the first node that outputs a value above 1e10 in magnitude.",
       "True", {}, true});
  add({"allow_gc", "Free intermediate results as soon as their last consumer has run (lower peak memory).", "True",
       {}, true});
  add({"tiered_compile",
       "Let kiln.function return before its generated kernels are compiled: they compile on background threads "
       "while the interpreter runs their nodes, which switch to them when ready.",
       "True", {}, true});
  add({"compiledir", "Directory of the on-disk cache of compiled kernels (created private to the user).",
       default_compiledir(), {}});
  add({"cxx", "C++ compiler used to build generated kernels; empty disables code generation.", "g++", {}});
  add({"cxxflags", "Flags for compiling generated kernels: optimised for this CPU, without contracting a * b + c into fma (results stay those of the interpreter).",
       "-O3 -march=native -ffp-contract=off -fno-math-errno -fno-trapping-math", {}});
  add({"exception_verbosity", "'low': short error messages; 'high': also print the graph around the failing node.",
       "low", {"low", "high"}});
  add({"on_unused_input", "What kiln.function does with an input the outputs do not depend on.", "raise",
       {"raise", "warn", "ignore"}});
  add({"device", "Where computations run.", "cpu", {"cpu"}});
  add({"optimizer", "Which graph rewrites FAST_RUN applies: fast_run (all), fast_compile, merge, or None.",
       "fast_run", {"fast_run", "fast_compile", "merge", "None"}});
  add({"optimizer_including", "Extra rewrite tags or names to apply, separated by ':'.", "", {}});
  add({"optimizer_excluding", "Rewrite tags or names not to apply, separated by ':'.", "", {}});
  add({"optimizer_verbose", "Print every rewrite applied, with the node before and after.", "False", {}, true});
  add({"on_opt_error", "When a rewrite fails: warn and skip it, raise, or ignore it silently.", "warn",
       {"warn", "raise", "ignore"}});
  add({"profile_optimizer", "Time each rewrite and count the nodes it adds or removes.", "False", {}, true});
  add({"conv_backend",
       "Kernels of the convolution ops: auto (oneDNN for the float32 2-d kernels where it was measured "
       "faster; im2col + GEMM for the rest), im2col (always im2col + GEMM), onednn (oneDNN for every "
       "float32 2-d case it supports). Without oneDNN in the build every choice runs im2col + GEMM.",
       "auto", {"auto", "im2col", "onednn"}});
  add({"warn_float64", "What to do when a float64 variable is created: ignore, warn or raise.", "ignore",
       {"ignore", "warn", "raise"}});
}

void Config::add(ConfigFlag flag) {
  values_.push_back(flag.default_value);
  flags_.push_back(std::move(flag));
  refresh_cache();
}

std::string Config::value(const std::string& name) const {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  for (size_t i = 0; i < flags_.size(); ++i)
    if (flags_[i].name == name) return values_[i];
  KILN_THROW(ValueError) << "unknown configuration flag \"" << name << "\"";
}

void Config::set(const std::string& name, const std::string& raw) {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  std::string v = trim(raw);
  for (size_t i = 0; i < flags_.size(); ++i) {
    const ConfigFlag& f = flags_[i];
    if (f.name != name) continue;
    if (f.is_bool) {
      v = parse_bool(name, v) ? "True" : "False";
    } else if (name == "floatX" && (v == "32" || v == "64")) {
      v = "float" + v;
    }
    if (!f.allowed.empty()) {
      bool ok = false;
      for (const auto& a : f.allowed) ok = ok || a == v;
      if (!ok) {
        Error e(ErrorKind::ValueError);
        e << "invalid value (\"" << v << "\") for configuration flag \"" << name << "\": valid options are ";
        for (size_t j = 0; j < f.allowed.size(); ++j) e << (j ? ", " : "") << f.allowed[j];
        throw e;
      }
    }
    values_[i] = v;
    refresh_cache();
    return;
  }
  KILN_THROW(ValueError) << "kiln does not recognise the configuration flag \"" << name << "\"";
}

bool Config::get_bool(const std::string& name) const { return value(name) == "True"; }

void Config::refresh_cache() {
  for (size_t i = 0; i < flags_.size(); ++i) {
    if (flags_[i].name == "floatX") floatX_ = dtype_from_name(values_[i]);
    if (flags_[i].name == "allow_gc") allow_gc_ = values_[i] == "True";
  }
}

std::string Config::describe() const {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  std::ostringstream os;
  for (size_t i = 0; i < flags_.size(); ++i) {
    const ConfigFlag& f = flags_[i];
    os << f.name << " (" << (f.is_bool ? "bool" : f.allowed.empty() ? "str" : "one of ");
    for (size_t j = 0; j < f.allowed.size(); ++j) os << (j ? ", " : "") << f.allowed[j];
    os << ")\n    Doc:  " << f.doc << "\n    Value:  " << values_[i] << "\n\n";
  }
  return os.str();
}

void Config::apply_flags_string(const std::string& flags) {
  std::stringstream ss(flags);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    KILN_USER_CHECK(eq != std::string::npos, ValueError)
        << "KILN_FLAGS entry \"" << item << "\" has no value: expected name=value";
    set(trim(item.substr(0, eq)), item.substr(eq + 1));
  }
}

void Config::apply_rc_text(const std::string& text, const std::string& origin) {
  std::stringstream ss(text);
  std::string line, section = "global";
  int lineno = 0;
  while (std::getline(ss, line)) {
    ++lineno;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      KILN_USER_CHECK(line.back() == ']', ValueError) << origin << ":" << lineno << ": malformed section header";
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find_first_of("=:");
    KILN_USER_CHECK(eq != std::string::npos, ValueError)
        << origin << ":" << lineno << ": expected 'name = value', got \"" << line << "\"";
    std::string key = trim(line.substr(0, eq));
    set(section == "global" ? key : section + "." + key, line.substr(eq + 1));
  }
}

void Config::load_from_environment() {
  const char* rc = std::getenv("KILNRC");
  std::string files;
  if (rc) {
    files = rc;
  } else if (const char* home = std::getenv("HOME")) {
    files = std::string(home) + "/.kilnrc";
  }
  std::stringstream ss(files);
  std::string path;
  while (std::getline(ss, path, ':')) {
    if (path.empty()) continue;
    std::ifstream in(path);
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    apply_rc_text(text.str(), path);
  }
  if (const char* env = std::getenv("KILN_FLAGS")) apply_flags_string(env);
}

}  // namespace kiln
