# Every third-party library is found with pkg-config and exposed as an
# imported target PkgConfig::<name>; each ferry target links only what it
# uses. libjq is the exception: Debian bookworm's libjq-dev ships no .pc file,
# so it is found by header and library name.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
pkg_check_modules(LIBNBD REQUIRED IMPORTED_TARGET libnbd)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
# gpgme verifies OpenPGP commit signatures (Git gates); writing an OpenPGP
# packet parser and verifier by hand would be far more code to trust.
pkg_check_modules(GPGME REQUIRED IMPORTED_TARGET gpgme)

pkg_check_modules(LIBJQ QUIET IMPORTED_TARGET libjq)
if(NOT LIBJQ_FOUND)
  find_path(LIBJQ_INCLUDE_DIR jq.h REQUIRED)
  find_library(LIBJQ_LIBRARY jq REQUIRED)
  add_library(PkgConfig::LIBJQ UNKNOWN IMPORTED)
  set_target_properties(PkgConfig::LIBJQ PROPERTIES
    IMPORTED_LOCATION "${LIBJQ_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LIBJQ_INCLUDE_DIR}")
endif()

if(FERRY_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
