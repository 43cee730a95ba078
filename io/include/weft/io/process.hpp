// weft::process: child processes (asyncio's subprocesses) — spawn with pipes, wait through a
// pidfd, signal, communicate, run.
#pragma once

#include "weft/io/process/child.hpp"
#include "weft/io/process/pipe.hpp"
