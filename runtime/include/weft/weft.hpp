// The whole public API of weft.
#pragma once

#include "weft/runtime/runtime.hpp"
