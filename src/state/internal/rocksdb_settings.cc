#include "state/internal/rocksdb_settings.h"

#include <algorithm>
#include <cstddef>

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace brook::state::internal {

RocksDbSettings rocksDbSettings(const RocksDbKeyedStore::Options& options) {
  RocksDbSettings settings;
  // Memtables are charged to the cache; its capacity is both budgets together, so blocks keep
  // at least blockCacheBytes while memtables use up to writeBufferBytes.
  settings.cache =
      rocksdb::NewLRUCache(static_cast<size_t>(options.blockCacheBytes + options.writeBufferBytes));
  // Writes stall while the memtables are over budget, until a flush frees memory: that is
  // what makes the budget a bound rather than a flush trigger.
  settings.writeBufferManager = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(options.writeBufferBytes), settings.cache, /*allow_stall=*/true);

  settings.db.create_if_missing = true;
  settings.db.error_if_exists = true;
  settings.db.max_background_jobs = options.maxBackgroundJobs;
  settings.db.write_buffer_manager = settings.writeBufferManager;
  settings.db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  settings.db.keep_log_file_num = 2;
  settings.db.stats_dump_period_sec = 0;
  // The data is discarded at close, so flushing it then is wasted work.
  settings.db.avoid_flush_during_shutdown = true;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = settings.cache;
  // Index and filter blocks count against the cache too, so they cannot grow unbounded.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // A Bloom filter of whole keys per table file (10 bits a key, ~1% false positives): a point
  // read of a key that a file lacks skips its data blocks, and the cache can tell that
  // RocksDB holds no value for a key it removes without reading it.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned (4 KiB filter and index blocks under a pinned top level): the full filter
  // block of a large file would fill a whole shard of the block cache and be read again
  // after every eviction.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  settings.columnFamily.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Each memtable may take half of the budget; the write buffer manager flushes the largest
  // one when all of them together approach it.
  settings.columnFamily.write_buffer_size =
      std::max<size_t>(static_cast<size_t>(options.writeBufferBytes) / 2, 64 << 10);
  // A Bloom filter of whole keys per memtable (a tenth of its size, in its arena, so inside
  // the write buffer budget): a point read of a key that the memtable does not hold skips the
  // skip list search, a dozen or more cache misses. It made state get+put ~30% faster
  // (BENCHMARKS.md, "Keyed state").
  settings.columnFamily.memtable_prefix_bloom_size_ratio = 0.1;
  settings.columnFamily.memtable_whole_key_filtering = true;
  return settings;
}

}  // namespace brook::state::internal
