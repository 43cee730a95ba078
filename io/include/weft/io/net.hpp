// weft::net: sockets on the per-worker epoll reactors.
#pragma once

#include "weft/io/net/address.hpp"
#include "weft/io/net/any_stream.hpp"
#include "weft/io/net/byte_stream.hpp"
#include "weft/io/net/expose.hpp"
#include "weft/io/net/resolve.hpp"
#include "weft/io/net/server.hpp"
#include "weft/io/net/socket.hpp"
#include "weft/io/net/stream.hpp"
#include "weft/io/net/tcp.hpp"
#include "weft/io/net/udp.hpp"
#include "weft/io/net/unix.hpp"
