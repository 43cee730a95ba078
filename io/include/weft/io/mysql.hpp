// weft::mysql: a MySQL and MariaDB client on MariaDB Connector/C's non-blocking API.
#pragma once

#include "weft/io/mysql/connection.hpp"
#include "weft/io/mysql/errors.hpp"
#include "weft/io/mysql/pool.hpp"
#include "weft/io/mysql/result.hpp"
#include "weft/io/mysql/transaction.hpp"
#include "weft/io/mysql/types.hpp"
