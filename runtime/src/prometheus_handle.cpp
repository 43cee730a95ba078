// prometheus_text(const RuntimeHandle&) (prometheus.hpp): apart from the formatting in
// prometheus.cpp, which needs nothing of the runtime but the RuntimeMetrics struct.
#include "weft/runtime/prometheus.hpp"
#include "weft/runtime/runtime.hpp"

namespace weft::metrics {

std::string prometheus_text(const RuntimeHandle& rt) {
  return prometheus_text(rt.metrics());
}

}  // namespace weft::metrics
