# brook_add_job(target sources...): a Brook job, a shared library that `brook run` loads.
function(brook_add_job target)
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_features(${target} PRIVATE cxx_std_20)
  if(TARGET Brook::api)
    target_link_libraries(${target} PRIVATE Brook::api)
  else()
    target_link_libraries(${target} PRIVATE brook::api)
  endif()
endfunction()
