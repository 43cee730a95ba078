// The synchronisation primitives and queues of weft (sync/).
#pragma once

#include "weft/sync/event.hpp"
#include "weft/sync/mutex.hpp"
#include "weft/sync/queue.hpp"
#include "weft/sync/semaphore.hpp"
