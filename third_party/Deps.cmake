# Finds the six dependencies and exposes them as tether::<name> targets.
# Linux/macOS: the system's -dev packages (Debian: libuv1-dev libmbedtls-dev
# libsqlite3-dev libcjson-dev zlib1g-dev, llhttp compiled from node-llhttp's
# sources).
# Windows cross build: the static prefix made by third_party/build-mingw-deps.sh
# (see toolchain-mingw-w64.cmake), and zlib from Debian's libz-mingw-w64-dev
# in /usr/x86_64-w64-mingw32. Real Windows: vcpkg, same find calls.
include_guard(GLOBAL)
find_package(Threads REQUIRED)

# libuv: Debian ships pkg-config files only, so plain find_* calls.
find_path(UV_INCLUDE_DIR uv.h REQUIRED)
if(WIN32)
  find_library(UV_LIBRARY NAMES uv_a uv libuv REQUIRED)
else()
  find_library(UV_LIBRARY NAMES uv REQUIRED)
endif()
add_library(tether::uv UNKNOWN IMPORTED)
set_target_properties(tether::uv PROPERTIES IMPORTED_LOCATION "${UV_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${UV_INCLUDE_DIR}")
if(WIN32)
  set_property(TARGET tether::uv APPEND PROPERTY INTERFACE_LINK_LIBRARIES
    ws2_32 iphlpapi userenv psapi user32 advapi32 dbghelp ole32 shell32)
else()
  set_property(TARGET tether::uv APPEND PROPERTY INTERFACE_LINK_LIBRARIES
    Threads::Threads ${CMAKE_DL_LIBS})
endif()

# mbedtls: 2.28 on Debian has no CMake or pkg-config files.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIBRARY NAMES mbedtls REQUIRED)
find_library(MBEDX509_LIBRARY NAMES mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIBRARY NAMES mbedcrypto REQUIRED)
add_library(tether::mbedtls INTERFACE IMPORTED)
set_target_properties(tether::mbedtls PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES "${MBEDTLS_LIBRARY};${MBEDX509_LIBRARY};${MBEDCRYPTO_LIBRARY}")
if(WIN32)
  set_property(TARGET tether::mbedtls APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32 advapi32 bcrypt)
endif()

find_package(SQLite3 REQUIRED)
add_library(tether::sqlite3 ALIAS SQLite::SQLite3)

find_path(CJSON_INCLUDE_DIR cjson/cJSON.h REQUIRED)
find_library(CJSON_LIBRARY NAMES cjson REQUIRED)
add_library(tether::cjson UNKNOWN IMPORTED)
set_target_properties(tether::cjson PROPERTIES IMPORTED_LOCATION "${CJSON_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CJSON_INCLUDE_DIR}")
if(WIN32 AND CJSON_LIBRARY MATCHES "\\.a$|-static")
  set_property(TARGET tether::cjson APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS CJSON_HIDE_SYMBOLS)
endif()

# llhttp: compiled from the C sources that node-llhttp installs (never copied
# into this repository); TETHER_LLHTTP_SRC_DIR points at another source tree.
set(TETHER_LLHTTP_SRC_DIR "/usr/share/llhttp" CACHE PATH "directory with llhttp api.c http.c llhttp.c")
set(TETHER_LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH "directory with llhttp.h")
if(EXISTS "${TETHER_LLHTTP_SRC_DIR}/llhttp.c" AND EXISTS "${TETHER_LLHTTP_INCLUDE_DIR}/llhttp.h")
  add_library(tether_llhttp STATIC "${TETHER_LLHTTP_SRC_DIR}/api.c"
    "${TETHER_LLHTTP_SRC_DIR}/http.c" "${TETHER_LLHTTP_SRC_DIR}/llhttp.c")
  target_include_directories(tether_llhttp SYSTEM PUBLIC "${TETHER_LLHTTP_INCLUDE_DIR}")
  set_target_properties(tether_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_CLANG_TIDY "")
  # Generated code: our warning flags are not meant for it.
  target_compile_options(tether_llhttp PRIVATE -w)
  add_library(tether::llhttp ALIAS tether_llhttp)
else()
  find_path(LLHTTP_INCLUDE_DIR llhttp.h REQUIRED)
  find_library(LLHTTP_LIBRARY NAMES llhttp llhttp_static REQUIRED)
  add_library(tether::llhttp UNKNOWN IMPORTED)
  set_target_properties(tether::llhttp PROPERTIES IMPORTED_LOCATION "${LLHTTP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LLHTTP_INCLUDE_DIR}")
endif()

# zlib (permessage-deflate): CMake's FindZLIB. In a mingw root that has both
# (Debian's libz-mingw-w64-dev does), FindZLIB takes the import library
# libz.dll.a, and the executables would then need zlib1.dll beside them;
# naming the static libz.a first keeps them self-contained like the other
# static deps. FindZLIB keeps a ZLIB_LIBRARY that is already set (also one
# given with -D). MSVC/vcpkg: FindZLIB alone.
if(WIN32 AND NOT MSVC)
  find_library(ZLIB_LIBRARY NAMES libz.a libzlibstatic.a z zlib)
endif()
find_package(ZLIB REQUIRED)
add_library(tether::zlib INTERFACE IMPORTED)
set_target_properties(tether::zlib PROPERTIES INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)
