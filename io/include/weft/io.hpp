// weft's I/O: networking (and, later, files, processes and signals).
#pragma once

#include "weft/io/fs.hpp"
#include "weft/io/net.hpp"
#include "weft/io/process.hpp"
#include "weft/io/signal.hpp"
