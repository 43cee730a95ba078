// The whole public API of weft.
#pragma once

#include "weft/io.hpp"
#include "weft/runtime/async_generator.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/budget.hpp"
#include "weft/runtime/cancel.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/gather.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/prometheus.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/task_group.hpp"
#include "weft/runtime/task_local.hpp"
#include "weft/runtime/time.hpp"
#include "weft/runtime/wait.hpp"
#include "weft/sync.hpp"
