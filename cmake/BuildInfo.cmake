# Writes BuildInfo.cpp (the version and the git commit the binaries print with --version).
# Run at every build by the leafsync_build_info target; configure_file rewrites the file only
# when its text changes, so an unchanged commit recompiles nothing.
#   -DSOURCE_DIR= -DVERSION= -DTEMPLATE= -DOUT=
# Without git (a container build from a context without .git), LEAFSYNC_GIT_COMMIT from the
# environment names the commit, else it is "unknown".
set(LEAFSYNC_COMMIT "$ENV{LEAFSYNC_GIT_COMMIT}")
if(LEAFSYNC_COMMIT STREQUAL "")
  execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE LEAFSYNC_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE git_result ERROR_QUIET)
  if(NOT git_result EQUAL 0 OR LEAFSYNC_COMMIT STREQUAL "")
    set(LEAFSYNC_COMMIT "unknown")
  else()
    # Uncommitted changes to tracked files: the binary is not exactly that commit.
    execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD --
                    RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      string(APPEND LEAFSYNC_COMMIT "-dirty")
    endif()
  endif()
endif()
set(LEAFSYNC_VERSION "${VERSION}")
configure_file("${TEMPLATE}" "${OUT}" @ONLY)
