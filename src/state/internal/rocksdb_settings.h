#pragma once

/// The RocksDB settings of a RocksDbKeyedStore's memory budget: one LRU cache of block cache and
/// write buffers with the memtables charged to it, the database options and the column family
/// options every state shares. The store adds its own per state (merge operators, compaction
/// filters, memtable insert hints); the state benchmark opens its raw RocksDB baseline with
/// these, so that the two compare on the same settings. Includes RocksDB: keep it out of widely
/// included headers.

#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/write_buffer_manager.h>

#include "state/rocksdb_keyed_store.h"

namespace brook::state::internal {

struct RocksDbSettings {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBufferManager;
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions columnFamily;
};

RocksDbSettings rocksDbSettings(const RocksDbKeyedStore::Options& options);

}  // namespace brook::state::internal
