#pragma once

/// The Brook SDK: include this to write a job.

#include <brook/broadcast_process_function.h>    // IWYU pragma: export
#include <brook/data_stream.h>                   // IWYU pragma: export
#include <brook/file_sink.h>                     // IWYU pragma: export
#include <brook/functions.h>                     // IWYU pragma: export
#include <brook/interval_join.h>                 // IWYU pragma: export
#include <brook/job.h>                           // IWYU pragma: export
#include <brook/joined_streams.h>                // IWYU pragma: export
#include <brook/operator_state_store.h>          // IWYU pragma: export
#include <brook/process_function.h>              // IWYU pragma: export
#include <brook/process_join_function.h>         // IWYU pragma: export
#include <brook/serializer.h>                    // IWYU pragma: export
#include <brook/sinks.h>                         // IWYU pragma: export
#include <brook/sources.h>                       // IWYU pragma: export
#include <brook/state.h>                         // IWYU pragma: export
#include <brook/stream_execution_environment.h>  // IWYU pragma: export
#include <brook/two_phase_commit_sink.h>         // IWYU pragma: export
#include <brook/windowed_stream.h>                // IWYU pragma: export
#include <brook/windowing.h>                      // IWYU pragma: export
#include <brook/watermark_strategy.h>              // IWYU pragma: export
