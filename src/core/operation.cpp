#include "core/operation.h"

namespace lrogate::core {

bool can_transition(Status from, Status to) {
  if (is_terminal(from)) return false;
  if (from == Status::kRunning && to == Status::kNotStarted) return false;
  return true;
}

}  // namespace lrogate::core
