// The synchronisation primitives, queues and channels of weft (sync/).
#pragma once

#include "weft/sync/barrier.hpp"
#include "weft/sync/broadcast.hpp"
#include "weft/sync/cancellation_token.hpp"
#include "weft/sync/channel_error.hpp"
#include "weft/sync/condition.hpp"
#include "weft/sync/event.hpp"
#include "weft/sync/expose.hpp"
#include "weft/sync/latch.hpp"
#include "weft/sync/lifo_queue.hpp"
#include "weft/sync/mutex.hpp"
#include "weft/sync/oneshot.hpp"
#include "weft/sync/pool.hpp"
#include "weft/sync/priority_queue.hpp"
#include "weft/sync/queue.hpp"
#include "weft/sync/semaphore.hpp"
