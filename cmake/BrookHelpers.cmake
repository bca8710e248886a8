# Build helpers: one library per folder (brook_<name>, alias brook::<name>), tests beside them.

add_library(brook_warnings INTERFACE)
target_compile_options(brook_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<BOOL:${BROOK_WERROR}>:-Werror>)
if(BROOK_SANITIZE)
  target_compile_options(brook_warnings INTERFACE -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(brook_warnings INTERFACE -fsanitize=address,undefined)
endif()
install(TARGETS brook_warnings EXPORT BrookTargets)

# brook_cc_library(NAME name SRCS ... DEPS ... [PRIVATE_DEPS ...])
function(brook_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(brook_${ARG_NAME} SHARED ${ARG_SRCS})
  add_library(brook::${ARG_NAME} ALIAS brook_${ARG_NAME})
  target_include_directories(brook_${ARG_NAME} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
  target_link_libraries(brook_${ARG_NAME} PUBLIC ${ARG_DEPS}
    PRIVATE brook_warnings ${ARG_PRIVATE_DEPS})
  # A library's calls to its own functions bind to them, not through the PLT to whatever a
  # process might interpose: the compiler may inline them and calls between its files are direct.
  target_compile_options(brook_${ARG_NAME} PRIVATE -fno-semantic-interposition)
  target_link_options(brook_${ARG_NAME} PRIVATE -Wl,-Bsymbolic-functions)
endfunction()

# brook_cc_test(NAME name SRCS ... DEPS ...): one gtest binary, labelled unit.
function(brook_cc_test)
  if(NOT BROOK_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME;LABEL" "SRCS;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} brook_warnings GTest::gmock
    GTest::gtest_main)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT 300)
endfunction()
