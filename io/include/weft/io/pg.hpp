// weft::pg: a PostgreSQL client on libpq's non-blocking API (the weft::pg library, which a
// program that does not use PostgreSQL neither links nor needs). Connections and queries:
// pg/connection.hpp; a pool of them: pg/pool.hpp; transactions: pg/transaction.hpp; COPY in
// and out: pg/copy.hpp; rows: pg/result.hpp; LISTEN/NOTIFY: pg/notify.hpp; batches of
// queries in one round trip: pg/pipeline.hpp; C++ types to PostgreSQL's and back:
// pg/types.hpp; errors: pg/errors.hpp.
#pragma once

#include "weft/io/pg/connection.hpp"
#include "weft/io/pg/copy.hpp"
#include "weft/io/pg/errors.hpp"
#include "weft/io/pg/notify.hpp"
#include "weft/io/pg/pipeline.hpp"
#include "weft/io/pg/pool.hpp"
#include "weft/io/pg/result.hpp"
#include "weft/io/pg/transaction.hpp"
#include "weft/io/pg/types.hpp"
