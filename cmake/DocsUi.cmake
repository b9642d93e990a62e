# The static files of the interactive API docs (/docs: Swagger UI, /redoc: ReDoc), fetched from
# the npm registry by name and version at configure time, never committed, and compiled into
# the binaries (leafsync/DocsUi.cpp), so the container image needs nothing beside them.
# Unpacked once into LEAFSYNC_NPM_CACHE (default ~/.cache/leafsync/npm), shared by build trees.
set(LEAFSYNC_SWAGGER_UI_VERSION 5.35.0)
set(LEAFSYNC_REDOC_VERSION 3.0.1)
if(DEFINED ENV{LEAFSYNC_NPM_CACHE})
  set(_npm_cache "$ENV{LEAFSYNC_NPM_CACHE}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(_npm_cache "$ENV{XDG_CACHE_HOME}/leafsync/npm")
else()
  set(_npm_cache "$ENV{HOME}/.cache/leafsync/npm")
endif()

# Unpacks package@version into ${_npm_cache}/package-version and sets OUT to that directory.
function(leafsync_npm_package package version out)
  set(dir "${_npm_cache}/${package}-${version}")
  if(NOT EXISTS "${dir}/package/package.json")
    find_program(LEAFSYNC_NPM npm)
    if(NOT LEAFSYNC_NPM)
      message(FATAL_ERROR "npm is needed to fetch ${package}@${version} for /docs and /redoc (scripts/install-deps.sh installs it)")
    endif()
    file(REMOVE_RECURSE "${dir}")
    file(MAKE_DIRECTORY "${dir}")
    message(STATUS "fetching ${package}@${version} from the npm registry")
    execute_process(COMMAND "${LEAFSYNC_NPM}" pack --silent "${package}@${version}" --pack-destination "${dir}"
                    WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_VARIABLE tarball OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "npm pack ${package}@${version} failed (${rc}): is the npm registry reachable?")
    endif()
    file(ARCHIVE_EXTRACT INPUT "${dir}/${tarball}" DESTINATION "${dir}")
    file(REMOVE "${dir}/${tarball}")
  endif()
  set(${out} "${dir}/package" PARENT_SCOPE)
endfunction()

leafsync_npm_package(swagger-ui-dist ${LEAFSYNC_SWAGGER_UI_VERSION} LEAFSYNC_SWAGGER_UI_DIR)
leafsync_npm_package(redoc ${LEAFSYNC_REDOC_VERSION} LEAFSYNC_REDOC_DIR)
set(LEAFSYNC_DOCS_UI_FILES
  "${LEAFSYNC_SWAGGER_UI_DIR}/swagger-ui-bundle.js"
  "${LEAFSYNC_SWAGGER_UI_DIR}/swagger-ui.css"
  "${LEAFSYNC_REDOC_DIR}/bundles/redoc.standalone.js")
foreach(file IN LISTS LEAFSYNC_DOCS_UI_FILES)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "${file} is missing from its npm package (a changed layout?)")
  endif()
endforeach()
