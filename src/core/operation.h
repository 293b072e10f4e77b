// The operation record and its state machine.
//
//   NotStarted ──► Running ──► Succeeded | Failed | Canceled
//        └──────────────────► (any terminal state)
// Terminal states are final. The record type lives in store/ (plain data);
// this header gives core's callers one place for the rules.
#pragma once

#include "store/operation_record.h"

namespace lrogate::core {

using store::is_terminal;
using store::Kind;
using store::kind_name;
using store::Operation;
using store::parse_status;
using store::Status;
using store::status_name;

// Whether the state machine allows from → to (a repeat of a non-terminal
// state is allowed: it is another poll).
bool can_transition(Status from, Status to);

}  // namespace lrogate::core
