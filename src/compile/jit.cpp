// The compiler driver and on-disk kernel cache.
//
// A kernel's library lives at <compiledir>/kernels/<key>.so, where the key hashes the source, the
// scalar-math header, the compiler's identity and the flags: a new graph whose kernels were seen
// before (in any process) loads them without compiling. The cache directory is private to the
// user (mode 0700). Processes compiling the same kernel take turns through a lock file; a library
// is compiled in a private temporary directory and moved into place with rename(), which is
// atomic, so no process ever loads a half-written library. A library that does not load (a
// truncated file, say) is deleted and rebuilt.
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "kiln/compile/codegen.hpp"
#include "kiln/config.hpp"
#include "kiln/error.hpp"

extern char** environ;

namespace kiln {
namespace {

std::string hex_hash(const std::string& text) {
  // Two 64-bit FNV-1a hashes with different offsets: 128 bits, plenty for a cache key.
  uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
  for (unsigned char c : text) {
    h1 = (h1 ^ c) * 0x100000001b3ULL;
    h2 = (h2 ^ c) * 0x100000001b3ULL;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h1), static_cast<unsigned long long>(h2));
  return buf;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  for (std::string w; is >> w;) out.push_back(w);
  return out;
}

// Runs argv (searching PATH), stdout and stderr to `log`; returns the exit status (-1: not run).
int run_program(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path, size_t limit = 4000) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > limit ? text.substr(0, limit) + "..." : text;
}

// The compiler's first line of --version, so a compiler upgrade gets new libraries.
// The process-wide state of the driver lives at namespace scope, constructed when the library
// loads: it must outlive the background compile threads, which finish their compile during exit.
std::mutex identity_mutex;
std::unordered_map<std::string, std::string> known_identities;

std::string compiler_identity(const std::string& cxx, const std::string& scratch) {
  std::mutex& mutex = identity_mutex;
  auto& known = known_identities;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find(cxx);
  if (it != known.end()) return it->second;
  std::string log = scratch + "/version-XXXXXX";  // private: other processes ask at the same time
  const int fd = ::mkstemp(log.data());
  if (fd < 0) return "";
  ::close(fd);
  std::string id;
  if (run_program({cxx, "--version"}, log) == 0) {
    id = read_file(log);
    id = id.substr(0, id.find('\n'));
  }
  ::unlink(log.c_str());
  return known[cxx] = id;
}

// mkdir -p, with directories kiln creates private to the user. An existing cache directory owned
// by someone else is refused: loading their libraries would run their code.
bool make_private_dirs(const std::string& path, std::string* error) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create the kernel cache directory " + part + ": " + std::strerror(errno);
      return false;
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_uid != ::getuid()) {
    *error = "the kernel cache directory " + path + " is not owned by the current user";
    return false;
  }
  if ((st.st_mode & 077) != 0) ::chmod(path.c_str(), 0700);
  return true;
}

struct Loaded {
  KernelRunFn run = nullptr;
  std::string error;
};

// dlopen + dlsym; nullptr if the file is missing, truncated, or lacks the symbols. Initialises it
// and hands the kernel the interpreter's vector kernels for its steps.
KernelRunFn open_library(const std::string& path, const std::string& symbol, const std::vector<const void*>& step_kernels) {
  if (::access(path.c_str(), R_OK) != 0) return nullptr;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  auto run = reinterpret_cast<KernelRunFn>(::dlsym(handle, symbol.c_str()));
  using InitFn = void (*)(const void* const*);
  auto init = reinterpret_cast<InitFn>(::dlsym(handle, (symbol + "_init").c_str()));
  if (!run || !init) {
    ::dlclose(handle);
    return nullptr;
  }
  init(step_kernels.data());
  return run;  // libraries stay loaded for the life of the process
}

Loaded compile_and_load(const std::string& source, const std::string& symbol, const std::vector<const void*>& table) {
  const Config& config = Config::get();
  const std::string cxx = config.value("cxx"), flags = config.value("cxxflags");
  if (cxx.empty()) return {nullptr, "code generation is disabled (config.cxx is empty)"};
  const std::string dir = config.value("compiledir") + "/kernels";
  Loaded result;
  if (!make_private_dirs(dir, &result.error)) return result;
  const std::string key = hex_hash(source + '\0' + scalar_math_header_source() + '\0' + compiler_identity(cxx, dir) +
                                   '\0' + flags + '\0' + symbol);
  const std::string so = dir + "/" + key + ".so";
  if ((result.run = open_library(so, symbol, table))) return result;

  // One process compiles; the others wait on the lock, then find the library.
  const std::string lock_path = dir + "/" + key + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0600);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
  if (!(result.run = open_library(so, symbol, table))) {
    ::unlink(so.c_str());  // missing, or present but broken: rebuild
    std::string tmp = dir + "/tmp-XXXXXX";
    if (!::mkdtemp(tmp.data())) {
      result.error = "cannot create a temporary directory in " + dir + ": " + std::strerror(errno);
    } else {
      std::ofstream(tmp + "/kiln_scalar_math.hpp") << scalar_math_header_source();
      std::ofstream(tmp + "/kernel.cpp") << source;
      std::vector<std::string> argv = {cxx};
      for (auto& f : split_words(flags)) argv.push_back(f);
      for (const char* f : {"-std=c++17", "-shared", "-fPIC", "-w"}) argv.push_back(f);
      argv.insert(argv.end(), {"-I" + tmp, "-o", tmp + "/kernel.so", tmp + "/kernel.cpp"});
      const int status = run_program(argv, tmp + "/log.txt");
      if (status == 0 && ::rename((tmp + "/kernel.so").c_str(), so.c_str()) == 0) {
        std::ofstream(dir + "/" + key + ".cpp") << source;  // for kiln-cache and show-source
        result.run = open_library(so, symbol, table);
        if (!result.run) result.error = "the compiled kernel " + so + " does not load: " + (::dlerror() ? ::dlerror() : "");
      } else {
        result.error = status < 0 ? "cannot run the C++ compiler '" + cxx + "'"
                                  : "the C++ compiler '" + cxx + "' failed:\n" + read_file(tmp + "/log.txt");
      }
      for (const char* f : {"/kiln_scalar_math.hpp", "/kernel.cpp", "/kernel.so", "/log.txt"}) ::unlink((tmp + f).c_str());
      ::rmdir(tmp.c_str());
    }
  }
  if (lock_fd >= 0) {
    ::flock(lock_fd, LOCK_UN);
    ::close(lock_fd);
  }
  return result;
}

std::mutex loaded_mutex;
std::unordered_map<std::string, std::shared_future<Loaded>> loaded_kernels;

// Threads that compile kernels while functions already run (tiered execution). At exit the
// queue is dropped and each thread finishes the compile it is in, so exit neither crashes nor
// waits for more than one compile per thread.
class BackgroundCompiler {
 public:
  BackgroundCompiler() { scalar_math_header_source(); }  // its static text must outlive the threads
  ~BackgroundCompiler() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      queue_.clear();
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (threads_.empty())
      for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i) threads_.emplace_back([this] { work(); });
    queue_.push_back(std::move(task));
    wake_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

}  // namespace

bool compiler_runs() {
  const Config& config = Config::get();
  const std::string cxx = config.value("cxx");
  if (cxx.empty()) return false;
  const std::string dir = config.value("compiledir") + "/kernels";
  std::string error;
  return make_private_dirs(dir, &error) && !compiler_identity(cxx, dir).empty();
}

void compile_in_background(std::function<void()> task) {
  static BackgroundCompiler compiler;
  compiler.submit(std::move(task));
}

KernelRunFn load_kernel(const std::string& source, const std::string& symbol, const std::vector<const void*>& step_kernels,
                        std::string* error) {
  // In this process: each source is compiled or loaded once; different kernels proceed in parallel.
  std::mutex& mutex = loaded_mutex;
  auto& kernels = loaded_kernels;
  std::shared_future<Loaded> future;
  std::promise<Loaded> promise;
  bool mine = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto key = source + '\0' + Config::get().value("cxx") + '\0' + Config::get().value("cxxflags");
    auto it = kernels.find(key);
    if (it == kernels.end()) {
      future = promise.get_future().share();
      kernels.emplace(key, future);
      mine = true;
    } else {
      future = it->second;
    }
  }
  if (mine) promise.set_value(compile_and_load(source, symbol, step_kernels));
  const Loaded& loaded = future.get();
  if (!loaded.run && error) *error = loaded.error;
  return loaded.run;
}

}  // namespace kiln
