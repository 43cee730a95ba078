// The process's registry of exposed primitives (exposed_waits.hpp): a list under one mutex,
// which a snapshot holds while it calls the read functions, so that Exposure::reset returns
// only once no snapshot can still call into the primitive it took off.
#include "weft/runtime/exposed_waits.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace weft::metrics {
namespace {

struct Entry {
  std::uint64_t id;
  std::string name;
  std::vector<WaitSource> sources;
};

struct Registry {
  std::mutex mu;
  std::uint64_t next_id = 1;
  std::vector<Entry> entries;  // in the order exposed
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: Exposures may outlive static objects
  return *r;
}

}  // namespace

Exposure& Exposure::operator=(Exposure&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void Exposure::reset() noexcept {
  if (id_ == 0) return;
  std::vector<WaitSource> gone;  // destroyed after the lock, in case a read owns something
  {
    Registry& r = registry();
    std::lock_guard lk(r.mu);
    auto it = std::find_if(r.entries.begin(), r.entries.end(),
                           [this](const Entry& e) { return e.id == id_; });
    if (it != r.entries.end()) {
      gone = std::move(it->sources);
      r.entries.erase(it);
    }
  }
  id_ = 0;
}

Exposure expose_waits(std::string name, std::vector<WaitSource> sources) {
  if (name.empty()) throw std::invalid_argument("metrics::expose_waits: the name is empty");
  if (sources.empty()) {
    throw std::invalid_argument("metrics::expose_waits(\"" + name + "\"): no sources");
  }
  for (const WaitSource& s : sources) {
    if (s.kind.empty() || !s.read) {
      throw std::invalid_argument("metrics::expose_waits(\"" + name +
                                  "\"): a source without a kind or a read function");
    }
  }
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  for (const Entry& e : r.entries) {
    if (e.name != name) continue;
    for (const WaitSource& mine : sources) {
      for (const WaitSource& theirs : e.sources) {
        if (mine.kind == theirs.kind) {
          throw std::invalid_argument("metrics::expose_waits: \"" + name + "\" (" + mine.kind +
                                      ") is exposed already");
        }
      }
    }
  }
  const std::uint64_t id = r.next_id++;
  r.entries.push_back(Entry{id, std::move(name), std::move(sources)});
  return Exposure(id);
}

std::vector<NamedWaitStats> exposed_waits() {
  std::vector<NamedWaitStats> out;
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  for (const Entry& e : r.entries) {
    for (const WaitSource& s : e.sources) out.push_back({e.name, s.kind, s.read()});
  }
  return out;
}

}  // namespace weft::metrics
